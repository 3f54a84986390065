// The bucket that holds the photos, the run results and the served models. Private, encrypted,
// TLS-only and versioned; access is granted per prefix, never on the whole bucket.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PREFIX } from './names.js';

export interface DataBucketProps {
  bucketName?: string;
  /** SSE-KMS with a customer managed key (rotated yearly) instead of SSE-S3. */
  kmsKey: boolean;
  removeDataOnDestroy: boolean;
  tmpExpirationDays: number;
  noncurrentVersionDays: number;
}

export type Prefix = (typeof PREFIX)[keyof typeof PREFIX];

export class DataBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key?: kms.Key;

  constructor(scope: Construct, id: string, props: DataBucketProps) {
    super(scope, id);
    const removalPolicy = props.removeDataOnDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    if (props.kmsKey) {
      this.key = new kms.Key(this, 'Key', {
        description: 'fruits data bucket encryption',
        enableKeyRotation: true,
        removalPolicy,
      });
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: this.key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: this.key,
      // One data key per bucket instead of per object: far fewer (billed) KMS calls for 90k images.
      bucketKeyEnabled: this.key ? true : undefined,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        // Uploads cut off by a crash or a scale-in stay invisible but billed until aborted.
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-tmp', prefix: PREFIX.tmp, expiration: Duration.days(props.tmpExpirationDays) },
        // Reruns overwrite part files; versioning keeps the old ones, for a while.
        { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays) },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
      removalPolicy,
      autoDeleteObjects: props.removeDataOnDestroy,
    });
  }

  /** s3:// URI of a prefix (or a key under it). */
  uri(prefix: Prefix, rest = ''): string {
    return `s3://${this.bucket.bucketName}/${prefix}${rest}`;
  }

  /** List and read the objects under `prefix`. */
  grantReadPrefix(grantee: iam.IGrantable, prefix: Prefix): void {
    grantee.grantPrincipal.addToPrincipalPolicy(this.listStatement(prefix));
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
    );
    this.grantKey(grantee, ['kms:Decrypt']);
  }

  /** List, read, write and delete (its own partial output) under `prefix`. */
  grantReadWritePrefix(grantee: iam.IGrantable, prefix: Prefix): void {
    this.grantReadPrefix(grantee, prefix);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    // Multipart uploads decrypt the parts they assemble, hence Decrypt with GenerateDataKey.
    this.grantKey(grantee, ['kms:Decrypt', 'kms:GenerateDataKey']);
  }

  private grantKey(grantee: iam.IGrantable, actions: string[]): void {
    if (this.key) grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.key.keyArn] }));
  }

  private listStatement(prefix: Prefix): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [prefix, `${prefix}*`] } },
    });
  }
}
