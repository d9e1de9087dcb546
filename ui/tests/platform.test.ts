import { describe, expect, it } from 'vitest';

import { platformOf } from '../src/lib/platform';

describe('platformOf', () => {
  it('names the desktop from the web view user agent', () => {
    // WebKitGTK (the Linux app), WKWebView, WebView2.
    expect(platformOf('Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15')).toBe('linux');
    expect(platformOf('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)')).toBe('mac');
    expect(platformOf('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0')).toBe('windows');
    expect(platformOf('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36')).toBe('other');
    expect(platformOf('')).toBe('other');
  });
});
