// The `fruits` container image, built from the repository's Dockerfile as a CDK image asset.
// Synth only fingerprints the build context (filtered by .dockerignore); Docker runs at deploy time.
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { REPO_ROOT } from './repo-root.js';

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
