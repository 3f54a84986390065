// A small evaluator of the IAM statements in a synthesized template: which role may do what on
// which resource. Tokens are rendered as readable strings (Ref X → "X", GetAtt X.Arn → "arn:X").
import { resourcesOf, type CfnTemplate } from './synth.js';

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Ref' in v) return String(v.Ref);
    if ('Fn::GetAtt' in v) return v['Fn::GetAtt'][1] === 'Arn' ? `arn:${v['Fn::GetAtt'][0]}` : `${v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}`;
    if ('Fn::Join' in v) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0]);
  }
  return '<unresolved>';
}

export function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** Statements of every identity policy attached to the role (inline or AWS::IAM::Policy). */
export function roleStatements(t: CfnTemplate, roleId: string): Statement[] {
  const out: Statement[] = [];
  for (const [, p] of resourcesOf(t, 'AWS::IAM::Policy')) {
    if (list(p.Properties!.Roles).some((r: any) => r?.Ref === roleId)) out.push(...list<Statement>(p.Properties!.PolicyDocument.Statement));
  }
  const role = t.Resources[roleId];
  for (const p of list<any>(role?.Properties?.Policies)) out.push(...list<Statement>(p.PolicyDocument.Statement));
  return out;
}

/** Allow statements that grant `action` on `resource` (conditions not evaluated: returned for checks). */
export function allowing(statements: Statement[], action: string, resource: string): Statement[] {
  return statements.filter(
    (s) =>
      s.Effect === 'Allow' &&
      list(s.Action).some((a) => glob(a, action)) &&
      list(s.Resource).map(render).some((r) => glob(r, resource)),
  );
}

export function allows(statements: Statement[], action: string, resource: string): boolean {
  return allowing(statements, action, resource).length > 0;
}

/** Logical id of the task role of the task definition that runs `containerName`. */
export function taskRoleOf(t: CfnTemplate, containerName: string): string {
  for (const [, task] of resourcesOf(t, 'AWS::ECS::TaskDefinition')) {
    const names = (task.Properties!.ContainerDefinitions as { Name: string }[]).map((c) => c.Name);
    if (names.includes(containerName)) return task.Properties!.TaskRoleArn['Fn::GetAtt'][0];
  }
  throw new Error(`no task runs a container named ${containerName}`);
}

/** Every identity statement in the template, with the role or policy it belongs to. */
export function allIdentityStatements(t: CfnTemplate): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  for (const [id, p] of resourcesOf(t, 'AWS::IAM::Policy')) {
    for (const s of list<Statement>(p.Properties!.PolicyDocument.Statement)) out.push({ owner: id, statement: s });
  }
  for (const [id, r] of resourcesOf(t, 'AWS::IAM::Role')) {
    for (const p of list<any>(r.Properties?.Policies)) for (const s of list<Statement>(p.PolicyDocument.Statement)) out.push({ owner: id, statement: s });
  }
  for (const [id, p] of resourcesOf(t, 'AWS::IAM::ManagedPolicy')) {
    for (const s of list<Statement>(p.Properties!.PolicyDocument.Statement)) out.push({ owner: id, statement: s });
  }
  return out;
}
