// Model output as sanitized Markdown. Model output is untrusted: HTML in the source is escaped
// (never interpreted), the rendered HTML then goes through DOMPurify with a tag allow-list and no
// attribute but `href` on links, which must be http(s). Images are never loaded: they become
// links (or text). The raw view does not come here at all; it only ever creates text nodes.

import DOMPurify from 'dompurify';
import { Marked, type Links, type Token, type Tokens, type TokensList } from 'marked';

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'strong', 'em', 'del', 'code', 'pre', 'blockquote',
  'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a',
];

/** `&`, `<`, `>`, `"` and `'` as entities, so text can never become markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export function isSafeLink(href: string): boolean {
  return /^https?:\/\//i.test(href.trim());
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    // Block and inline HTML in the answer: shown as the literal text it is.
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    // Task lists without form controls: a checkbox would need attributes beyond `href`.
    checkbox({ checked }: Tokens.Checkbox): string {
      return checked ? '☑ ' : '☐ ';
    },
    // No image is ever fetched; an http(s) image becomes a link to it.
    image({ href, text }: Tokens.Image): string {
      const label = escapeHtml(`image: ${text || href}`);
      return isSafeLink(href) ? `<a href="${escapeHtml(href)}">${label}</a>` : label;
    },
  },
});

let hooked = false;

function installHooks(): void {
  if (hooked) {
    return;
  }
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    const href = node.getAttribute('href');
    if (href !== null && (node.nodeName !== 'A' || !isSafeLink(href))) {
      node.removeAttribute('href');
    }
  });
}

/** Markdown to a sanitized fragment, ready to put into the page. */
export function renderMarkdown(source: string): DocumentFragment {
  const tokens = lexMarkdown(source);
  return renderBlocks(tokens, tokens.links);
}

/** The top-level blocks of `source` (each keeps its `raw` text), for incremental rendering. */
export function lexMarkdown(source: string): TokensList {
  return marked.lexer(source);
}

/** Some top-level blocks of a lexed document, rendered and sanitized. `links` are the
 * document's reference definitions, so `[text][ref]` works in any block. */
export function renderBlocks(blocks: Token[], links: Links): DocumentFragment {
  installHooks();
  const list = Object.assign([...blocks], { links }) as TokensList;
  const html = marked.parser(list);
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ['href'],
    ALLOWED_URI_REGEXP: /^https?:\/\//i,
    RETURN_DOM_FRAGMENT: true,
  });
}
