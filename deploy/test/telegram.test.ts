import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container, resourcesOf, synth, taskWithContainer } from './support/synth.js';

describe('telegram service (fruits telegram)', () => {
  it('is not deployed unless telegram=true', () => {
    const { json } = synth();
    assert.throws(() => taskWithContainer(json, 'telegram'));
    assert.equal(json.Outputs?.TelegramLogGroup, undefined);
  });

  it('runs one long-polling bot with the token from Secrets Manager, nothing inbound', () => {
    const { json } = synth({ telegram: 'true', telegramBundle: 'fruits360/v2', telegramTokenSecret: 'prod/fruits-bot' });
    const bot = container(json, 'telegram');
    assert.equal(bot.Command[0], 'telegram');
    assert.match(JSON.stringify(bot.Command[1]), /\/models\/fruits360\/v2"/);
    // Long polling (no --webhook), metrics on the task's loopback only.
    assert.ok(!bot.Command.includes('--webhook'));
    assert.deepEqual(bot.Command.slice(2), ['--metrics-port', '9464', '--grace', '25']);
    assert.ok(!bot.Command.includes('--metrics-host'));
    assert.equal(bot.PortMappings, undefined);
    assert.equal(bot.StopTimeout, 30);
    assert.match(bot.HealthCheck.Command[3], /127\.0\.0\.1:9464\/healthz/);

    // The token: an ECS secret from Secrets Manager, never a plain environment value.
    assert.deepEqual(bot.Secrets.map((s: { Name: string }) => s.Name), ['TELEGRAM_BOT_TOKEN']);
    assert.match(JSON.stringify(bot.Secrets[0].ValueFrom), /secret:prod\/fruits-bot/);
    assert.ok(!(bot.Environment ?? []).some((e: { Name: string }) => /TELEGRAM/.test(e.Name)));
    // Only the execution role (which fetches secrets at start) may read it.
    const [, task] = taskWithContainer(json, 'telegram');
    const executionRole = task.Properties!.ExecutionRoleArn['Fn::GetAtt'][0];
    const policies = resourcesOf(json, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties!.PolicyDocument).includes('prod/fruits-bot'));
    assert.ok(policies.length >= 1);
    for (const [, p] of policies) {
      assert.deepEqual(p.Properties!.Roles, [{ Ref: executionRole }]);
      const actions = p.Properties!.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
      assert.ok(actions.includes('secretsmanager:GetSecretValue'));
    }

    // Exactly one poller, never two at once (Telegram answers a second one with 409).
    const [, service] = resourcesOf(json, 'AWS::ECS::Service').find(([, s]) => JSON.stringify(s.Properties!.TaskDefinition).includes(taskWithContainer(json, 'telegram')[0]))!;
    assert.equal(service.Properties!.DesiredCount, 1);
    assert.equal(service.Properties!.DeploymentConfiguration.MaximumPercent, 100);
    assert.equal(service.Properties!.DeploymentConfiguration.MinimumHealthyPercent, 0);
    assert.equal(service.Properties!.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
    // Its security group admits nothing.
    const sgIds = service.Properties!.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups.map((s: any) => s['Fn::GetAtt'][0]);
    for (const id of sgIds) assert.equal(json.Resources[id].Properties!.SecurityGroupIngress, undefined);
    const ingressRules = resourcesOf(json, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => sgIds.includes(r.Properties!.GroupId?.['Fn::GetAtt']?.[0]));
    assert.deepEqual(ingressRules, []);
    // No load balancer comes with it.
    assert.equal(resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').length, 0);
    assert.ok(json.Outputs?.TelegramLogGroup);
  });

  it('reads only the models/ prefix of the bucket', () => {
    const { json } = synth({ telegram: 'true' });
    const [, task] = taskWithContainer(json, 'telegram');
    const taskRole = task.Properties!.TaskRoleArn['Fn::GetAtt'][0];
    const statements = resourcesOf(json, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === taskRole))
      .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const actions = statements.flatMap((s) => [s.Action].flat());
    assert.ok(actions.every((a) => /^s3:(Get|List)/.test(a) || /^kms:Decrypt/.test(a)), actions.join(', '));
    assert.match(JSON.stringify(statements.map((s) => s.Resource)), /models\//);
  });

  it('refuses a task size Fargate does not offer', () => {
    assert.throws(() => synth({ telegram: 'true', telegramCpu: '512', telegramMemory: '512' }), /telegram task 512 CPU \/ 512 MiB/);
  });
});
