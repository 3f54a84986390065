#!/usr/bin/env node
// The CDK app: `cdk synth|deploy|destroy` run this. Settings come from context (see lib/config.ts
// and docs/deploy.md); the region is fixed by them, the account is whichever credentials deploy.
import { App } from 'aws-cdk-lib';
import { ConfigError, readConfig } from '../lib/config.js';
import { FruitsStack } from '../lib/fruits-stack.js';

const app = new App();
try {
  const config = readConfig((key) => app.node.tryGetContext(key));
  new FruitsStack(app, config.stackName, { env: { region: config.region }, config });
  app.synth();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}
