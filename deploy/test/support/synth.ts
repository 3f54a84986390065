// Synthesizes the stack the way `cdk synth` does (cdk.json's feature flags plus the given
// context) and returns the template for assertions. Templates are cached per context.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readConfig, type FruitsConfig } from '../../lib/config.js';
import { FruitsStack } from '../../lib/fruits-stack.js';
import { scratchDir } from './scratch.js';

/** deploy/ (this file runs from deploy/dist/test/support/). */
export const DEPLOY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The CLI test runs CloudFormation validation; here it would only add ~20 s of rule loading.
process.env.CDK_VALIDATION = 'false';

const cdkContext = (JSON.parse(readFileSync(path.join(DEPLOY_DIR, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

export interface Synthesized {
  app: App;
  stack: FruitsStack;
  config: FruitsConfig;
  template: Template;
  json: CfnTemplate;
  outdir: string;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

const cache = new Map<string, Synthesized>();

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const key = JSON.stringify(context);
  const hit = cache.get(key);
  if (hit) return hit;
  const outdir = scratchDir('synth');
  const app = new App({ context: { ...cdkContext, ...context }, outdir });
  const config = readConfig((k) => app.node.tryGetContext(k));
  const stack = new FruitsStack(app, config.stackName, { env: { region: config.region }, config });
  const template = Template.fromStack(stack);
  const result = { app, stack, config, template, json: template.toJSON() as CfnTemplate, outdir };
  cache.set(key, result);
  return result;
}

/** Resources of one type, by logical id. */
export function resourcesOf(t: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}

/** The task definition whose containers include `containerName`. */
export function taskWithContainer(t: CfnTemplate, containerName: string): [string, CfnResource] {
  const found = resourcesOf(t, 'AWS::ECS::TaskDefinition').find(([, r]) =>
    (r.Properties?.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === containerName),
  );
  if (!found) throw new Error(`no task definition with a container named ${containerName}`);
  return found;
}

export function container(t: CfnTemplate, containerName: string): Record<string, any> {
  const [, task] = taskWithContainer(t, containerName);
  return (task.Properties!.ContainerDefinitions as Record<string, any>[]).find((c) => c.Name === containerName)!;
}
