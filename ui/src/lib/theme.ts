// Light, dark, or the system's choice (prefers-color-scheme), remembered across launches. The
// stylesheet does the work: `data-theme` on <html> overrides the media query when set.

export type ThemeChoice = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'modelbench.theme';
const ORDER: readonly ThemeChoice[] = ['system', 'light', 'dark'];

export function loadTheme(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): ThemeChoice {
  const saved = storage?.getItem(STORAGE_KEY);
  return saved === 'light' || saved === 'dark' ? saved : 'system';
}

export function applyTheme(choice: ThemeChoice, root: HTMLElement = document.documentElement): void {
  if (choice === 'system') {
    delete root.dataset.theme;
  } else {
    root.dataset.theme = choice;
  }
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, choice);
  } catch {
    // Storage can be unavailable (private mode); the choice then lasts for this session.
  }
}

export function nextTheme(choice: ThemeChoice): ThemeChoice {
  return ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length] ?? 'system';
}
