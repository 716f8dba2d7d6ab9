/** Thrown on a node that is not (or no longer) active: the HTTP layer routes the request. */
export class StandbyError extends Error {
  override name = "StandbyError";
  constructor() {
    super("this node is a standby");
  }
}
