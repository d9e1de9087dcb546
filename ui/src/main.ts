// Entry point: chooses the backend (the shell, or the mock in a plain browser or with `?mock`),
// installs the frame probe, marks the platform for the stylesheet and mounts the app.

import { mount } from 'svelte';

import './app.css';
import App from './App.svelte';
import { AppState } from './lib/app-state.svelte';
import { selectBackend } from './lib/backend';
import { installFrameProbe } from './lib/frame-probe';
import { platformOf } from './lib/platform';

installFrameProbe();
document.documentElement.dataset.platform = platformOf(navigator.userAgent);

const backend = await selectBackend();
const target = document.getElementById('app');
if (target === null) {
  throw new Error('index.html has no #app element');
}
const app = new AppState(backend);
mount(App, { target, props: { app } });

// `?mock&autorun`: add the simulated targets and run at once (the visual check and the UI
// benchmark open the page this way). Never with the real shell.
if (backend.kind === 'mock' && new URLSearchParams(window.location.search).has('autorun')) {
  await app.startDemo();
  await app.startRun();
}
