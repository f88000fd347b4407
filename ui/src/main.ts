import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { settings } from './lib/settings.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('missing #app');
// The saved language first, so an Arabic console opens right-to-left. A shell that
// does not answer within 2 s leaves the defaults (and the Settings page says why).
const ready = Promise.race([settings.init(), new Promise((r) => setTimeout(r, 2000))]);
void ready.catch(() => {}).then(() => mount(App, { target }));
