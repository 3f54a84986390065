// A stand-in for the Telegram Bot API server, on loopback, speaking its HTTP protocol as grammY
// calls it: POST /bot<token>/<method> with JSON, answered {ok, result} or {ok: false,
// error_code, description}; getUpdates with offset confirmation and long polling; getFile;
// file downloads under /file/bot<token>/<file_path>. It records every call and download, and
// can hold a download (to catch an answer in flight) or fail one.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Call {
  method: string;
  payload: Record<string, any>;
}

export interface StandInFile {
  bytes: Buffer;
  /** file_size as getFile declares it (default: the real size). */
  declaredSize?: number;
  /** 'error': the download answers 500. */
  fail?: 'error';
}

export const BOT_USER = { id: 7000001, is_bot: true, first_name: 'Fruits', username: 'fruits_test_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

export class BotApiStandIn {
  readonly calls: Call[] = [];
  /** The file_id of every download request, in order. */
  readonly downloads: string[] = [];
  private readonly events = new EventEmitter();
  private readonly updates: Record<string, any>[] = [];
  private readonly files = new Map<string, StandInFile & { path: string }>();
  private nextUpdateId = 1000;
  private nextMessageId = 1;
  private held: Promise<void> | undefined;
  /** Chats whose sendMessage calls get their connection cut (an error that carries the URL). */
  readonly cutSendTo = new Set<number>();
  url = '';

  private constructor(
    private readonly token: string,
    private readonly server: http.Server,
  ) {
    this.events.setMaxListeners(100);
  }

  static async start(token: string): Promise<BotApiStandIn> {
    let self: BotApiStandIn | undefined;
    const server = http.createServer((req, res) => void self!.handle(req, res));
    self = new BotApiStandIn(token, server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return self;
  }

  async close(): Promise<void> {
    this.events.emit('closing');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addFile(fileId: string, file: StandInFile): void {
    this.files.set(fileId, { ...file, path: `documents/file_${this.files.size}.bin` });
  }

  /** Queues an update holding `message` (message_id, date and from/chat defaults filled in). */
  pushMessage(message: Record<string, any>, from: { id: number; language_code?: string } = { id: 42 }): number {
    const update_id = this.nextUpdateId++;
    const user = { id: from.id, is_bot: false, first_name: 'Tester', language_code: from.language_code ?? 'en' };
    this.updates.push({ update_id, message: { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat: { id: from.id, type: 'private', first_name: 'Tester' }, from: user, ...message } });
    this.events.emit('update');
    return update_id;
  }

  /** Cuts the connections of the long polls now waiting (a network failure, as the bot sees it). */
  cutPolls(): void {
    this.events.emit('cut-polls');
  }

  /** Downloads wait until the returned function is called. */
  holdDownloads(): () => void {
    let release!: () => void;
    this.held = new Promise((r) => (release = r));
    return () => {
      this.held = undefined;
      release();
    };
  }

  /** Resolves with the first value `find` returns for the calls so far or to come. */
  waitFor<T>(find: (calls: Call[], downloads: string[]) => T | undefined, what = 'a call'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = find(this.calls, this.downloads);
        if (v === undefined) return false;
        this.events.off('call', check);
        this.events.off('closing', closing);
        resolve(v);
        return true;
      };
      const closing = () => reject(new Error(`the stand-in closed while waiting for ${what}`));
      if (check()) return;
      this.events.on('call', check);
      this.events.once('closing', closing);
    });
  }

  /** The text of the next sendMessage to `chatId` after `after` calls. */
  replyTo(chatId: number, after = 0): Promise<string> {
    return this.waitFor((calls) => calls.slice(after).find((c) => c.method === 'sendMessage' && c.payload.chat_id === chatId)?.payload.text as string | undefined, `a reply to chat ${chatId}`);
  }

  sentTo(chatId: number): string[] {
    return this.calls.filter((c) => c.method === 'sendMessage' && c.payload.chat_id === chatId).map((c) => c.payload.text as string);
  }

  private record(call: Call): void {
    this.calls.push(call);
    this.events.emit('call');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(path);
    if (file && req.method === 'GET') return this.download(file[1], decodeURIComponent(file[2]), res);
    const call = /^\/bot([^/]+)\/(\w+)$/.exec(path);
    if (!call || req.method !== 'POST') return this.json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const payload = text ? (JSON.parse(text) as Record<string, any>) : {};
    if (call[1] !== this.token) return this.json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = call[2];
    this.record({ method, payload });
    switch (method) {
      case 'getMe':
        return this.ok(res, BOT_USER);
      case 'getUpdates':
        return this.getUpdates(payload, req, res);
      case 'getFile': {
        const f = this.files.get(String(payload.file_id));
        if (!f) return this.json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' });
        return this.ok(res, { file_id: payload.file_id, file_unique_id: `u${payload.file_id}`, file_size: f.declaredSize ?? f.bytes.length, file_path: f.path });
      }
      case 'sendMessage': {
        if (this.cutSendTo.has(Number(payload.chat_id))) {
          req.socket.destroy();
          return;
        }
        return this.ok(res, { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat: { id: payload.chat_id, type: 'private' }, from: BOT_USER, text: payload.text });
      }
      default:
        // deleteWebhook, setWebhook and the rest: accepted.
        return this.ok(res, true);
    }
  }

  private getUpdates(payload: Record<string, any>, req: http.IncomingMessage, res: http.ServerResponse): void {
    const offset = Number(payload.offset ?? 0);
    // Updates below the offset are confirmed: Telegram forgets them.
    while (this.updates.length && this.updates[0].update_id < offset) this.updates.shift();
    const limit = Number(payload.limit ?? 100);
    const answer = () => this.ok(res, this.updates.slice(0, limit));
    const timeout = Number(payload.timeout ?? 0);
    if (this.updates.length || timeout <= 0) return answer();
    // Long poll: answer when an update arrives, at the timeout, or when the client goes away.
    const done = () => {
      clearTimeout(timer);
      this.events.off('update', done);
      this.events.off('closing', done);
      this.events.off('cut-polls', cut);
      if (!res.writableEnded && !req.socket.destroyed) answer();
    };
    const cut = () => {
      req.socket.destroy();
      done();
    };
    const timer = setTimeout(done, timeout * 1000);
    this.events.on('update', done);
    this.events.once('closing', done);
    this.events.once('cut-polls', cut);
    res.once('close', done);
  }

  private async download(token: string, filePath: string, res: http.ServerResponse): Promise<void> {
    if (token !== this.token) return this.json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const [fileId, f] = [...this.files.entries()].find(([, x]) => x.path === filePath) ?? [filePath, undefined];
    this.downloads.push(fileId);
    this.events.emit('call');
    if (this.held) await this.held;
    if (!f) return this.json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (f.fail === 'error') return this.json(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.bytes.length });
    res.end(f.bytes);
  }

  private ok(res: http.ServerResponse, result: unknown): void {
    this.json(res, 200, { ok: true, result });
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
