// A minimal W3C WebDriver client over fetch (Node 20): enough to drive the real
// Switchboard window through tauri-driver + WebKitWebDriver, with no npm packages.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecc';

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async cmd(method, path, body) {
    const url = this.session ? `${this.base}/session/${this.session}${path}` : `${this.base}${path}`;
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value || {};
      throw new Error(`${method} ${path}: ${res.status} ${v.error || ''} ${v.message || ''}`.trim());
    }
    return json.value;
  }

  async start(application, env = {}) {
    const value = await this.cmd('POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application, env } } },
    });
    this.session = value.sessionId;
    return value;
  }

  async quit() {
    if (this.session) {
      await this.cmd('DELETE', '').catch(() => {});
      this.session = null;
    }
  }

  async find(css) {
    const v = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return v[ELEMENT] ?? v.ELEMENT ?? Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => e[ELEMENT] ?? e.ELEMENT ?? Object.values(e)[0]);
  }

  async click(css) {
    const id = await this.waitFor(css);
    await this.cmd('POST', `/element/${id}/click`, {});
  }

  async type(css, text) {
    const id = await this.waitFor(css);
    await this.cmd('POST', `/element/${id}/clear`, {}).catch(() => {});
    await this.cmd('POST', `/element/${id}/value`, { text });
  }

  async text(css) {
    const id = await this.find(css);
    return this.cmd('GET', `/element/${id}/text`);
  }

  async exec(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  /** Runs an async script: it gets a callback as its last argument and passes the result to it. */
  async execAsync(script, args = []) {
    return this.cmd('POST', '/execute/async', { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64');
  }

  /** Waits until `css` matches an element (and `pred(text)` holds, if given). */
  async waitFor(css, { timeout = 30000, pred } = {}) {
    const end = Date.now() + timeout;
    let last = '';
    while (Date.now() < end) {
      try {
        const ids = await this.findAll(css);
        for (const id of ids) {
          if (!pred) return id;
          last = await this.cmd('GET', `/element/${id}/text`);
          if (pred(last)) return id;
        }
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${css} (last: ${last.slice(0, 200)})`);
  }
}
