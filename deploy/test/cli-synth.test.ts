// `cdk synth` with the real CLI and cdk.json, offline: no credentials, no instance metadata, no
// notices, no version check, no telemetry; inside an empty network namespace where the machine
// allows one, so any attempt to reach the network fails the test instead of going unnoticed.
// CloudFormation validation is on, with warnings made errors.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { scratchDir } from './support/scratch.js';
import { DEPLOY_DIR } from './support/synth.js';

function canIsolateNetwork(): boolean {
  try {
    execFileSync('unshare', ['--net', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('cdk synth (CLI)', () => {
  it('synthesizes and validates the stack with every option on, offline', () => {
    const scratch = scratchDir('cli');
    const outdir = path.join(scratch, 'cdk.out');
    const empty = path.join(scratch, 'empty');
    writeFileSync(empty, '');
    const env = {
      PATH: process.env.PATH!,
      HOME: scratch,
      CI: 'true',
      CDK_DISABLE_VERSION_CHECK: '1',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: empty,
      AWS_SHARED_CREDENTIALS_FILE: empty,
      AWS_REGION: 'eu-west-3',
      npm_config_update_notifier: 'false',
    };
    const context = {
      '@aws-cdk/core:strictCfnValidateErrors': 'true',
      // The app writes its performance counters (which show the validator ran) only when synth
      // is slower than this threshold, 10 s by default: 0 makes the file appear on every machine.
      '@aws-cdk/core.slowSynthThreshold': '0',
      serve: 'true',
      kmsKey: 'true',
      workerSpot: 'true',
      budgetMonthlyUsd: '30',
      budgetEmail: 'ops@example.com',
    };
    const cdk = [path.join(DEPLOY_DIR, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '--no-notices', '--output', outdir];
    for (const [k, v] of Object.entries(context)) cdk.push('--context', `${k}=${v}`);
    const [cmd, args] = canIsolateNetwork() ? ['unshare', ['--net', process.execPath, ...cdk]] : [process.execPath, cdk];
    const r = spawnSync(cmd, args, { cwd: DEPLOY_DIR, env, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `cdk synth failed:\n${r.stdout}\n${r.stderr}`);

    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.artifacts.Fruits.environment, 'aws://unknown-account/eu-west-3');
    assert.equal(manifest.missing, undefined, 'synth asked for a context lookup');
    const template = JSON.parse(readFileSync(path.join(outdir, 'Fruits.template.json'), 'utf8'));
    const types = new Set(Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type));
    for (const t of ['AWS::S3::Bucket', 'AWS::ElastiCache::ReplicationGroup', 'AWS::ECS::Service', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::Budgets::Budget', 'AWS::KMS::Key']) {
      assert.ok(types.has(t), `${t} missing from the synthesized template`);
    }
    // The validator ran and found nothing to report.
    const counters = JSON.parse(readFileSync(path.join(outdir, 'performance-counters.json'), 'utf8')).counters;
    assert.ok(counters['CloudFormationValidate.validate(cnt)'] >= 1, 'CloudFormation validation did not run');
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const violations = (report.pluginReports as { violations: unknown[] }[]).flatMap((p) => p.violations);
    assert.deepEqual(violations, []);
    // The image is an asset built at deploy time: synth only staged its context.
    const assets = JSON.parse(readFileSync(path.join(outdir, 'Fruits.assets.json'), 'utf8'));
    assert.equal(Object.keys(assets.dockerImages).length, 1);
  });
});
