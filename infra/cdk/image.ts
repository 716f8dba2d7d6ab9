/** Where the Strongbox image comes from: built from this repository at deploy time, or a registry. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Arn, IgnoreMode, type Stack } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";

const DOCKERFILE = "infra/Dockerfile";
/** BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile; the CDK asset uses it too. */
const DOCKERIGNORE = `${DOCKERFILE}.dockerignore`;

/** `name` from a registry, or, without one, infra/Dockerfile built from this repository. */
export function strongboxImage(stack: Stack, name: string | undefined): ecs.ContainerImage {
  return name ? imageFromRegistry(stack, name) : imageFromSource(repositoryRoot());
}

/** The repository root: the nearest directory above this file that holds infra/Dockerfile. */
function repositoryRoot(): string {
  // Found by walking up, as this file runs both from infra/cdk and compiled into infra/cdk/build.
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, DOCKERFILE))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find ${DOCKERFILE} above ${fileURLToPath(import.meta.url)}`);
  }
}

/**
 * infra/Dockerfile built at deploy time (by `cdk deploy`, which needs Docker) with the repository
 * root as context, filtered as the Dockerfile's own .dockerignore says. Synthesis only copies files.
 */
function imageFromSource(root: string): ecs.ContainerImage {
  const exclude = readFileSync(join(root, DOCKERIGNORE), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return ecs.ContainerImage.fromAsset(root, {
    file: DOCKERFILE,
    exclude,
    ignoreMode: IgnoreMode.DOCKER,
    platform: Platform.LINUX_AMD64,
  });
}

const PRIVATE_ECR = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)(?::([^@]+)|@(sha256:[0-9a-f]{64}))?$/;

/**
 * A prebuilt image. A private ECR image is referenced as a repository so the task may pull it;
 * any other name (ECR Public, Docker Hub, GHCR) is pulled anonymously.
 */
function imageFromRegistry(stack: Stack, name: string): ecs.ContainerImage {
  const ecrImage = PRIVATE_ECR.exec(name);
  if (!ecrImage) return ecs.ContainerImage.fromRegistry(name);
  const [, account, region, repositoryName, tag, digest] = ecrImage as unknown as [string, string, string, string, string?, string?];
  const repository = ecr.Repository.fromRepositoryAttributes(stack, "ImageRepository", {
    repositoryName,
    repositoryArn: Arn.format({ service: "ecr", account, region, resource: "repository", resourceName: repositoryName }, stack),
  });
  return ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag ?? "latest");
}
