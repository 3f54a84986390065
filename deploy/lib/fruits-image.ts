// The `fruits` container image, built from the repository's Dockerfile as a CDK image asset.
// Synth only fingerprints the build context (filtered by .dockerignore); Docker runs at deploy time.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

/** The repository root: the parent of the deploy package, wherever this file runs from (lib/ via tsx, dist/lib/ compiled). */
export const REPO_ROOT = path.dirname(deployPackageDir(path.dirname(fileURLToPath(import.meta.url))));

function deployPackageDir(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'fruits-deploy') return dir;
  }
  throw new Error(`fruits deploy: no fruits-deploy package.json above ${from}`);
}

export class FruitsImage extends Construct {
  readonly asset: ecrAssets.DockerImageAsset;
  readonly image: ecs.ContainerImage;

  constructor(scope: Construct, id: string, directory = REPO_ROOT) {
    super(scope, id);
    if (!existsSync(path.join(directory, 'Dockerfile'))) {
      throw new Error(`fruits deploy: no Dockerfile in ${directory} (the image is built from the repository root)`);
    }
    this.asset = new ecrAssets.DockerImageAsset(this, 'Asset', {
      directory,
      // Fargate tasks run x86_64; pinning the platform keeps builds on arm64 laptops usable.
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
    this.image = ecs.ContainerImage.fromDockerImageAsset(this.asset);
  }
}
