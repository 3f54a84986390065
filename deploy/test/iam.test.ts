import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allIdentityStatements, allowing, allows, list, render, roleStatements, taskRoleOf } from './support/iam.js';
import { resourcesOf, synth, type CfnTemplate } from './support/synth.js';

// Every option that adds a role or a grant.
const FULL = { serve: true, kmsKey: true, removeDataOnDestroy: true, budgetMonthlyUsd: 20, budgetEmail: 'ops@example.com' };

/** Actions that IAM cannot scope to a resource, each with why it is here. */
const RESOURCE_STAR_ALLOWED = new Set([
  'ecr:GetAuthorizationToken', // ECS execution role: log in to ECR before the pull
  'cloudwatch:PutMetricData', // queue-metrics; scoped by a namespace condition (checked below)
  'ssmmessages:CreateControlChannel', // ECS Exec for the coordinator
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
]);

function bucketId(t: CfnTemplate): string {
  const [[id]] = resourcesOf(t, 'AWS::S3::Bucket').filter(([, r]) => r.Properties?.VersioningConfiguration);
  return id;
}

describe('IAM', () => {
  for (const [name, context] of [['default', {}], ['every option on', FULL]] as const) {
    it(`grants no wildcard admin, no s3:*, no *FullAccess (${name})`, () => {
      const { json } = synth(context);
      for (const { owner, statement } of allIdentityStatements(json)) {
        if (statement.Effect !== 'Allow') continue;
        for (const action of list(statement.Action)) {
          assert.ok(action !== '*' && !/^[a-z0-9-]+:\*$/i.test(action), `${owner} allows ${action}`);
          assert.ok(!/^iam:/i.test(action), `${owner} allows ${action}`);
        }
        const resources = list(statement.Resource).map(render);
        if (resources.includes('*')) {
          for (const action of list(statement.Action)) assert.ok(RESOURCE_STAR_ALLOWED.has(action), `${owner} allows ${action} on *`);
        }
      }
      for (const [id, role] of resourcesOf(json, 'AWS::IAM::Role')) {
        for (const arn of list(role.Properties?.ManagedPolicyArns)) {
          const name = JSON.stringify(arn);
          assert.ok(!/FullAccess|AdministratorAccess|PowerUserAccess/.test(name), `${id} has managed policy ${name}`);
        }
      }
      assert.equal(resourcesOf(json, 'AWS::IAM::User').length, 0, 'no IAM users, no access keys');
    });
  }

  it('lets the workers read images and read/write results, and nothing else in the bucket', () => {
    const { json } = synth();
    const b = bucketId(json);
    const worker = roleStatements(json, taskRoleOf(json, 'worker'));
    assert.ok(allows(worker, 's3:GetObject', `arn:${b}/images/Test/Apple Braeburn/0_100.jpg`));
    assert.ok(!allows(worker, 's3:PutObject', `arn:${b}/images/Test/x.jpg`), 'workers must not write images');
    assert.ok(allows(worker, 's3:PutObject', `arn:${b}/results/run-1/features/part-00000.parquet`));
    assert.ok(allows(worker, 's3:GetObject', `arn:${b}/results/run-1/features/part-00000.parquet`));
    assert.ok(allows(worker, 's3:AbortMultipartUpload', `arn:${b}/results/run-1/x`));
    assert.ok(!allows(worker, 's3:GetObject', `arn:${b}/models/current/bundle.json`), 'workers must not read models');
    assert.ok(!allows(worker, 's3:GetObject', `arn:${b}/secret.txt`));
    assert.ok(!allows(worker, 's3:DeleteBucket', `arn:${b}`));
    // Listing is limited to the prefixes too.
    const list_ = allowing(worker, 's3:ListBucket', `arn:${b}`);
    assert.ok(list_.length > 0);
    for (const s of list_) assert.ok(s.Condition?.StringLike?.['s3:prefix'], 'ListBucket without a prefix condition');
    const prefixes = list_.flatMap((s) => list(s.Condition!.StringLike['s3:prefix'] as string[]));
    assert.ok(prefixes.includes('images/*') && prefixes.includes('results/*'));
    assert.ok(!prefixes.some((p) => p === '*' || p.startsWith('models/')));
  });

  it('lets the classify service read models/ only', () => {
    const { json } = synth(FULL);
    const b = bucketId(json);
    const serve = roleStatements(json, taskRoleOf(json, 'serve'));
    assert.ok(allows(serve, 's3:GetObject', `arn:${b}/models/current/pca.json`));
    assert.ok(!allows(serve, 's3:PutObject', `arn:${b}/models/current/pca.json`));
    assert.ok(!allows(serve, 's3:GetObject', `arn:${b}/images/Test/x.jpg`));
    assert.ok(!allows(serve, 's3:GetObject', `arn:${b}/results/run-1/x`));
    assert.ok(!allows(serve, 'cloudwatch:PutMetricData', '*'));
  });

  it('lets the coordinator publish metrics only in its namespace', () => {
    for (const namespace of ['Fruits', 'Fruits/staging']) {
      const { json } = synth(namespace === 'Fruits' ? {} : { metricsNamespace: namespace });
      const coordinator = roleStatements(json, taskRoleOf(json, 'coordinator'));
      const put = allowing(coordinator, 'cloudwatch:PutMetricData', '*');
      assert.equal(put.length, 1);
      assert.deepEqual(put[0].Condition, { StringEquals: { 'cloudwatch:namespace': namespace } });
      const worker = roleStatements(json, taskRoleOf(json, 'worker'));
      assert.ok(!allows(worker, 'cloudwatch:PutMetricData', '*'), 'workers do not publish metrics');
    }
  });

  it('gives the Redis token to the task execution roles only, for their own secret', () => {
    const { json } = synth();
    const [[secretId]] = resourcesOf(json, 'AWS::SecretsManager::Secret');
    for (const name of ['worker', 'coordinator']) {
      assert.ok(!allows(roleStatements(json, taskRoleOf(json, name)), 'secretsmanager:GetSecretValue', secretId), `${name} task role reads the secret`);
    }
    const readers = allIdentityStatements(json).filter(({ statement }) => list(statement.Action).some((a) => a.startsWith('secretsmanager:')));
    assert.ok(readers.length >= 2);
    for (const { owner, statement } of readers) {
      assert.match(owner, /ExecutionRole/);
      assert.deepEqual(list(statement.Resource).map(render), [secretId]);
    }
  });
});
