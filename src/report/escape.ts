// Escaping for everything the report embeds: text in HTML, JSON in <script> blocks and the
// inlined chart library. Labels and paths come from folder and file names, which may hold
// anything, including markup.

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text (or an attribute value) safe to place in HTML. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON safe inside <script type="application/json">: '<', '>' and '&' become \u escapes so no
 * value can close the script element or open a comment, and U+2028/2029 are escaped too.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * JavaScript source safe inside an inline <script>. The sequences that end or confuse a script
 * element can only occur inside string, regex or comment text in valid code, where a backslash
 * before the '/' or '!' leaves the meaning unchanged.
 */
export function scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}
