import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { allows, list, render, roleStatements, taskRoleOf, type Statement } from './support/iam.js';
import { resourcesOf, synth } from './support/synth.js';

function bucketOf(context: Record<string, unknown> = {}) {
  const s = synth(context);
  const [[id, bucket]] = resourcesOf(s.json, 'AWS::S3::Bucket').filter(([, r]) => r.Properties?.VersioningConfiguration);
  return { ...s, id, bucket };
}

describe('data bucket', () => {
  it('blocks every form of public access and disables ACLs', () => {
    const { bucket } = bucketOf();
    assert.deepEqual(bucket.Properties!.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(bucket.Properties!.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  it('encrypts with SSE-S3 by default', () => {
    const { bucket } = bucketOf();
    const rules = bucket.Properties!.BucketEncryption.ServerSideEncryptionConfiguration;
    assert.equal(rules.length, 1);
    assert.equal(rules[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
  });

  it('encrypts with a rotated customer managed KMS key and a bucket key when kmsKey=true', () => {
    const { bucket, json, template } = bucketOf({ kmsKey: 'true' });
    const [rule] = bucket.Properties!.BucketEncryption.ServerSideEncryptionConfiguration;
    assert.equal(rule.ServerSideEncryptionByDefault.SSEAlgorithm, 'aws:kms');
    assert.equal(rule.BucketKeyEnabled, true);
    const [[keyId]] = resourcesOf(json, 'AWS::KMS::Key');
    assert.deepEqual(rule.ServerSideEncryptionByDefault.KMSMasterKeyID, { 'Fn::GetAtt': [keyId, 'Arn'] });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    // The workers must be able to use the key for what they read and write.
    const worker = roleStatements(json, taskRoleOf(json, 'worker'));
    assert.ok(allows(worker, 'kms:Decrypt', `arn:${keyId}`), 'worker cannot decrypt');
    assert.ok(allows(worker, 'kms:GenerateDataKey', `arn:${keyId}`), 'worker cannot encrypt');
  });

  it('denies any request that is not TLS 1.2 or later, for everyone', () => {
    const { json, id } = bucketOf();
    const [[, policy]] = resourcesOf(json, 'AWS::S3::BucketPolicy');
    assert.deepEqual(policy.Properties!.Bucket, { Ref: id });
    const statements = list<Statement>(policy.Properties!.PolicyDocument.Statement);
    const covers = (s: Statement) => {
      const resources = list(s.Resource).map(render);
      return resources.includes(`arn:${id}`) && resources.includes(`arn:${id}/*`);
    };
    const noTls = statements.find((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    assert.ok(noTls, 'no deny on aws:SecureTransport=false');
    assert.deepEqual(noTls.Principal, { AWS: '*' });
    assert.ok(list(noTls.Action).includes('s3:*'));
    assert.ok(covers(noTls), 'TLS deny must cover the bucket and its objects');
    const oldTls = statements.find((s) => s.Effect === 'Deny' && s.Condition?.NumericLessThan?.['s3:TlsVersion'] !== undefined);
    assert.ok(oldTls, 'no deny for old TLS versions');
    assert.equal(Number(oldTls.Condition!.NumericLessThan['s3:TlsVersion']), 1.2);
    assert.ok(covers(oldTls));
  });

  it('is versioned and expires temporary and partial objects', () => {
    const { bucket } = bucketOf();
    assert.deepEqual(bucket.Properties!.VersioningConfiguration, { Status: 'Enabled' });
    const rules = bucket.Properties!.LifecycleConfiguration.Rules as Record<string, any>[];
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    assert.equal(byId['abort-incomplete-multipart-uploads'].AbortIncompleteMultipartUpload.DaysAfterInitiation, 1);
    assert.equal(byId['abort-incomplete-multipart-uploads'].Prefix, undefined, 'must apply to the whole bucket');
    assert.equal(byId['expire-tmp'].Prefix, 'tmp/');
    assert.equal(byId['expire-tmp'].ExpirationInDays, 7);
    assert.equal(byId['expire-noncurrent-versions'].NoncurrentVersionExpiration.NoncurrentDays, 30);
    for (const r of rules) assert.equal(r.Status, 'Enabled');
  });

  it('takes the lifecycle periods from context', () => {
    const { bucket } = bucketOf({ tmpExpirationDays: '2', noncurrentVersionDays: '90' });
    const rules = bucket.Properties!.LifecycleConfiguration.Rules as Record<string, any>[];
    assert.equal(rules.find((r) => r.Id === 'expire-tmp')!.ExpirationInDays, 2);
    assert.equal(rules.find((r) => r.Id === 'expire-noncurrent-versions')!.NoncurrentVersionExpiration.NoncurrentDays, 90);
  });

  it('outlives the stack unless removeDataOnDestroy=true', () => {
    const kept = bucketOf();
    assert.equal(kept.bucket.DeletionPolicy, 'Retain');
    assert.equal(resourcesOf(kept.json, 'Custom::S3AutoDeleteObjects').length, 0);
    const dropped = bucketOf({ removeDataOnDestroy: true });
    assert.equal(dropped.bucket.DeletionPolicy, 'Delete');
    dropped.template.hasResource('Custom::S3AutoDeleteObjects', { Properties: { BucketName: { Ref: dropped.id } } });
  });

  it('names the bucket only when asked', () => {
    assert.equal(bucketOf().bucket.Properties!.BucketName, undefined);
    bucketOf({ bucketName: 'fruits-data-example' }).template.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'fruits-data-example' });
    bucketOf().template.hasOutput('ImagesUri', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });
});
