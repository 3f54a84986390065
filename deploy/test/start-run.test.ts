// The StartRunCommand output is pasted into a shell: run it through bash with a stand-in `aws`
// that records its arguments, and check what ECS would receive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { render } from './support/iam.js';
import { scratchDir } from './support/scratch.js';
import { container, synth } from './support/synth.js';

function runOutput(env: Record<string, string>): string[] {
  const { json } = synth();
  // Tokens become their logical ids (e.g. the bucket name reads "DataBucketE6B0FAA8").
  const command = render(json.Outputs!.StartRunCommand.Value);
  const bin = scratchDir('fake-aws');
  writeFileSync(path.join(bin, 'aws'), '#!/usr/bin/env node\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
  chmodSync(path.join(bin, 'aws'), 0o755);
  const out = execFileSync('bash', ['-c', command], { env: { PATH: `${bin}:${process.env.PATH}`, ...env }, encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

function flag(args: string[], name: string): string {
  const i = args.indexOf(name);
  assert.ok(i >= 0, `no ${name}`);
  return args[i + 1];
}

describe('starting a run', () => {
  it('is one aws ecs run-task command that launches the coordinator on Fargate', () => {
    const args = runOutput({ RUN_ID: 'fruits360-2024-01' });
    assert.deepEqual(args.slice(0, 2), ['ecs', 'run-task']);
    assert.equal(flag(args, '--region'), 'eu-west-3');
    assert.equal(flag(args, '--launch-type'), 'FARGATE');
    assert.equal(flag(args, '--task-definition'), 'Fruits-coordinator');
    assert.ok(args.includes('--enable-execute-command'), 'the dashboard port forward needs ECS Exec');
    assert.equal(flag(args, '--propagate-tags'), 'TASK_DEFINITION');
    assert.equal(flag(args, '--tags'), 'key=fruits-run,value=fruits360-2024-01');
    assert.match(flag(args, '--network-configuration'), /^awsvpcConfiguration=\{subnets=\[NetworkVpctasksSubnet1\w+,NetworkVpctasksSubnet2\w+\],securityGroups=\[CoordinatorSecurityGroup\w+\.GroupId\],assignPublicIp=DISABLED\}$/);
    const overrides = JSON.parse(flag(args, '--overrides'));
    const [{ name, command }] = overrides.containerOverrides;
    assert.equal(name, 'coordinator');
    assert.match(command[1], /^s3:\/\/DataBucket\w+\/images\/Test$/);
    assert.deepEqual(
      command.map((a: string) => a.replace(/DataBucket\w+/, 'BUCKET')),
      ['run', 's3://BUCKET/images/Test', 's3://BUCKET/results/fruits360-2024-01', '--engine', 'distributed', '--run-id', 'fruits360-2024-01'],
    );
  });

  it('takes the image split from SPLIT', () => {
    const overrides = JSON.parse(flag(runOutput({ RUN_ID: 'r2', SPLIT: 'Training' }), '--overrides'));
    assert.match(overrides.containerOverrides[0].command[1], /\/images\/Training$/);
  });

  it('overrides a container that exists, whose default is a distributed run too', () => {
    const { json } = synth();
    const coordinator = container(json, 'coordinator');
    assert.equal(coordinator.Essential, true);
    assert.deepEqual(coordinator.Command.slice(0, 1), ['run']);
    assert.deepEqual(coordinator.Command.slice(3), ['--engine', 'distributed']);
    // The helpers stop with the coordinator: they are not essential, and restart if they crash.
    assert.equal(container(json, 'queue-metrics').Essential, false);
    assert.equal(container(json, 'queue-metrics').RestartPolicy.Enabled, true);
    assert.equal(container(json, 'dashboard').Essential, false);
    assert.deepEqual(container(json, 'dashboard').Command, ['dashboard', '--port', '3000']);
  });
});
