// Entry point: connects to the shell, installs the frame probe, marks the platform for the
// stylesheet and mounts the app.

import { mount } from 'svelte';

import './app.css';
import App from './App.svelte';
import { AppState } from './lib/app-state.svelte';
import { selectBackend } from './lib/backend';
import { installFrameProbe } from './lib/frame-probe';
import { platformOf } from './lib/platform';

installFrameProbe();
document.documentElement.dataset.platform = platformOf(navigator.userAgent);

const target = document.getElementById('app');
if (target === null) {
  throw new Error('index.html has no #app element');
}
try {
  const app = new AppState(selectBackend());
  mount(App, { target, props: { app } });
} catch (error) {
  target.textContent = error instanceof Error ? error.message : String(error);
}
