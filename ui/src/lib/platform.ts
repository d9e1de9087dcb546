// Which desktop the page runs on, from the user agent of the platform's web view (WebKitGTK,
// WKWebView, WebView2). `main.ts` puts it on the root element as `data-platform`, where the
// stylesheet picks fonts that resolve cheaply on that platform.

export type Platform = 'mac' | 'windows' | 'linux' | 'other';

export function platformOf(userAgent: string): Platform {
  if (/Macintosh|Mac OS X/.test(userAgent)) {
    return 'mac';
  }
  if (/Windows/.test(userAgent)) {
    return 'windows';
  }
  if (/Linux|X11/.test(userAgent) && !/Android/.test(userAgent)) {
    return 'linux';
  }
  return 'other';
}
