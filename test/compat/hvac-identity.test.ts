import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";

/**
 * The calls of hvac's own identity integration test (tests/integration_tests/api/secrets_engines/
 * test_identity.py), with the answers it asserts, against a dev server; and an identity token
 * checked by hvac's OIDC calls.
 */
const SCRIPT = `
from hvac import exceptions
identity = client.secrets.identity
client.sys.enable_auth_method(method_type='approle', path='identity-test-approle')
accessor = client.sys.list_auth_methods()['data']['identity-test-approle/']['accessor']
out = {}
# 204s: hvac returns the Response (older releases: None)
def empty(answer):
    return getattr(answer, 'status_code', answer)

created = identity.create_or_update_entity(name='test-entity', metadata={'something': 'meta'})
entity_id = created['data']['id']
out['update_entity_status'] = identity.create_or_update_entity(name='test-entity', entity_id=entity_id).status_code
out['update_by_name_status'] = identity.create_or_update_entity_by_name(name='test-entity').status_code
out['read_by_id'] = identity.read_entity(entity_id=entity_id)['data']['id'] == entity_id
out['read_by_name'] = identity.read_entity_by_name(name='test-entity')['data']['id'] == entity_id
out['update_status'] = identity.update_entity(entity_id=entity_id, metadata={'something': 'else'}).status_code
out['list_ids'] = identity.list_entities()['data']['keys'] == [entity_id]
out['list_ids_get'] = identity.list_entities(method='GET')['data']['keys'] == [entity_id]
out['list_names'] = identity.list_entities_by_name()['data']['keys']
second = identity.create_or_update_entity(name='test-entity2')['data']['id']
out['merge_status'] = identity.merge_entities(from_entity_ids=[second], to_entity_id=entity_id).status_code

alias = identity.create_or_update_entity_alias(name='test-alias', canonical_id=entity_id, mount_accessor=accessor)
alias_id = alias['data']['id']
out['alias_canonical'] = alias['data']['canonical_id'] == entity_id
out['read_alias'] = identity.read_entity_alias(alias_id=alias_id)['data']['id'] == alias_id
updated_alias = identity.update_entity_alias(alias_id=alias_id, name='test-alias', canonical_id=entity_id, mount_accessor=accessor)
out['update_alias'] = updated_alias.status_code if hasattr(updated_alias, 'status_code') else updated_alias['data']['id'] == alias_id
try:
    identity.update_entity_alias(alias_id=alias_id, name='test-alias', canonical_id=entity_id, mount_accessor='not a valid accessor')
    out['bad_accessor'] = 'accepted'
except exceptions.InvalidRequest as error:
    out['bad_accessor'] = 'invalid mount accessor' in str(error)
out['list_aliases'] = identity.list_entity_aliases()['data']['keys'] == [alias_id]
out['lookup_entity'] = identity.lookup_entity(entity_id=entity_id)['data']['name']
out['lookup_entity_alias'] = identity.lookup_entity(alias_id=alias_id)['data']['aliases'][0]['name']
out['lookup_missing_entity'] = empty(identity.lookup_entity(entity_id='entity_id'))

member = identity.create_or_update_group(name='test-group-member')['data']['id']
group = identity.create_or_update_group(name='test-group', member_entity_ids=[entity_id], member_group_ids=[member], metadata={'a': 'b'})
group_id = group['data']['id']
read_group = identity.read_group(group_id=group_id)['data']
out['group_members'] = [read_group['member_entity_ids'] == [entity_id], read_group['member_group_ids'] == [member]]
try:
    identity.update_group(group_id=group_id, name='test-group', group_type='external')
    out['type_change'] = 'accepted'
except exceptions.InvalidRequest as error:
    out['type_change'] = 'group type cannot be changed' in str(error)
out['group_by_name_status'] = identity.create_or_update_group_by_name(name='test-group', group_type='internal').status_code
out['read_group_by_name'] = identity.read_group_by_name(name='test-group')['data']['id'] == group_id
out['list_group_names'] = identity.list_groups_by_name()['data']['keys']
external = identity.create_or_update_group(name='test-external', group_type='external')['data']['id']
out['external_read'] = identity.read_group(group_id=external)['data']['member_group_ids']
group_alias = identity.create_or_update_group_alias(name='test-group-alias', canonical_id=external, mount_accessor=accessor)
group_alias_id = group_alias['data']['id']
out['read_group_alias'] = identity.read_group_alias(alias_id=group_alias_id)['data']['id'] == group_alias_id
free_alias = identity.create_or_update_group_alias(name='another-alias', mount_accessor=accessor)
out['free_group_alias'] = 'id' in free_alias['data']
out['list_group_aliases'] = sorted(identity.list_group_aliases()['data']['keys']) == sorted([group_alias_id, free_alias['data']['id']])
out['lookup_group_name'] = identity.lookup_group(name='test-group')['data']['name']
out['lookup_group_alias'] = identity.lookup_group(alias_name='test-group-alias', alias_mount_accessor=accessor)['data']['alias']['name']
out['lookup_missing_group'] = empty(identity.lookup_group(group_id='group_id'))

identity.configure_tokens_backend(issuer='https://strongbox.example')
out['issuer'] = identity.read_tokens_backend_configuration()['data']['issuer']
identity.create_named_key(name='hvac-key', algorithm='ES256', allowed_client_ids=['*'])
out['key'] = identity.read_named_key(name='hvac-key')['data']
identity.create_or_update_role(name='hvac-role', key='hvac-key', ttl='10m')
out['roles'] = identity.list_roles()['data']['keys']
out['rotate_status'] = identity.rotate_named_key(name='hvac-key', verification_ttl='1h').status_code
out['well_known_issuer'] = identity.read_well_known_configurations()['issuer']
out['published_keys'] = len(identity.read_active_public_keys()['keys'])

for entity in identity.list_entities()['data']['keys']:
    identity.delete_entity(entity_id=entity)
try:
    identity.list_entity_aliases()
    out['aliases_after_delete'] = 'listed'
except exceptions.InvalidPath:
    out['aliases_after_delete'] = 'none'
out['delete_missing_status'] = identity.delete_entity(entity_id='nobody').status_code
print(json.dumps(out))
`;

describe("hvac's identity calls against a dev server", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("answers each call as hvac's integration test expects", async () => {
    const run = await runHvac(SCRIPT, { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      update_entity_status: 204,
      update_by_name_status: 204,
      read_by_id: true,
      read_by_name: true,
      update_status: 204,
      list_ids: true,
      list_ids_get: true,
      list_names: ["test-entity"],
      merge_status: 204,
      alias_canonical: true,
      read_alias: true,
      update_alias: true,
      bad_accessor: true,
      list_aliases: true,
      lookup_entity: "test-entity",
      lookup_entity_alias: "test-alias",
      lookup_missing_entity: 204,
      group_members: [true, true],
      type_change: true,
      group_by_name_status: 204,
      read_group_by_name: true,
      list_group_names: ["test-group", "test-group-member"],
      external_read: null,
      read_group_alias: true,
      free_group_alias: true,
      list_group_aliases: true,
      lookup_group_name: "test-group",
      lookup_group_alias: "test-group-alias",
      lookup_missing_group: 204,
      issuer: "https://strongbox.example",
      key: { algorithm: "ES256", allowed_client_ids: ["*"], rotation_period: 86400, verification_ttl: 86400 },
      roles: ["hvac-role"],
      rotate_status: 204,
      well_known_issuer: "https://strongbox.example/v1/identity/oidc",
      // hvac's rotate_named_key writes identity/oidc/key/<name> (not .../rotate): an update, no new key.
      published_keys: 1,
      aliases_after_delete: "none",
      delete_missing_status: 204,
    });
  });
});
