// The edgecomm console. It talks to the box's public REST API only, with the session cookie
// the box set at sign-in (HttpOnly: this script never sees it) and the CSRF token it answered,
// kept in this script's memory and nowhere else. Every value from the API reaches the page
// through textContent, never as markup.
'use strict';

const API = '/2012-04-24';
const PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);

const state = {
  csrf: null,        // the session's CSRF token, in memory only
  me: null,          // the signed-in account, as /console/session describes it
  box: null,         // GET /Box
  domains: {},       // organization SID -> SIP domain, of the organizations this account sees
  accounts: [],      // the tree, flattened: {account, depth}
  selected: null,    // SID of the account whose clients and registrations are shown
  clientPage: 0,
  timers: [],
  shownAccounts: null, // what the account tree shows now, to skip identical refreshes
  shownClients: null,  // and the client page
  polls: new Set(),    // background refreshes in flight
  paused: false,       // no new ones while true
};

// ---- talking to the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(method, path, params, { poll = false } = {}) {
  const headers = { Accept: 'application/json' };
  const session = state.csrf;
  if (session) headers['X-CSRF-Token'] = session;
  if (poll) headers['X-Console-Poll'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (params) init.body = new URLSearchParams(params);
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'The box does not answer (' + err.message + ').');
  }
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  // Only the session still in use can end: an answer to a request of an older one (sent
  // before a password change opened a new session) says nothing about the new one.
  if (res.status === 401 && session && session === state.csrf && path !== '/console/session') {
    signedOut('Your session has ended. Sign in again.');
  }
  if (!res.ok) {
    const message = body && body.message ? body.message : res.status + ' ' + res.statusText;
    throw new ApiError(res.status, message);
  }
  return body;
}

const account = (sid) => API + '/Accounts/' + encodeURIComponent(sid);

// ---- small DOM helpers -----------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === 'text') node.textContent = value;
    else if (key === 'onclick') node.addEventListener('click', value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function cell(label, content, cls) {
  const td = el('td', { 'data-label': label });
  if (cls) td.className = cls;
  if (content instanceof Node) td.append(content); else td.textContent = content == null ? '' : String(content);
  return td;
}

function button(text, onclick, cls, label) {
  const props = { type: 'button', text, onclick, class: cls || 'quiet' };
  if (label) props['aria-label'] = label;
  return el('button', props);
}

function notify(message, kind) {
  const box = $('notice');
  box.textContent = message;
  box.className = 'notice' + (kind === 'info' ? ' info' : '');
  box.hidden = !message;
}

// Runs a user action: clears the notice, shows the API's message if it fails.
async function act(work, done) {
  notify('');
  try {
    await work();
    if (done) notify(done, 'info');
  } catch (err) {
    if (err.status !== 401 || !state.csrf) notify(err.message);
  }
}

// A modal question; resolves to the input's value (or true), or null when cancelled.
function ask(title, text, { input = null, ok = 'OK', danger = false } = {}) {
  const dialog = $('ask');
  $('ask-title').textContent = title;
  $('ask-text').textContent = text;
  const field = $('ask-input');
  $('ask-label').hidden = field.hidden = input === null;
  if (input !== null) { $('ask-label').textContent = input.label; field.value = input.value; }
  $('ask-ok').textContent = ok;
  $('ask-ok').className = danger ? 'danger' : '';
  return new Promise((resolve) => {
    const finish = (answer) => {
      dialog.removeEventListener('close', onClose);
      $('ask-cancel').removeEventListener('click', onCancel);
      resolve(answer);
    };
    const onClose = () => finish(dialog.returnValue === 'ok' ? (input === null ? true : field.value) : null);
    const onCancel = () => dialog.close('cancel');
    dialog.addEventListener('close', onClose);
    $('ask-cancel').addEventListener('click', onCancel);
    dialog.returnValue = 'cancel';
    dialog.showModal();
    (input === null ? $('ask-ok') : field).focus();
  });
}

// A strong SIP password: 20 characters from letters and digits, at least one of each.
function generatePassword() {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    const text = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
    if (/[0-9]/.test(text) && /[A-Za-z]/.test(text)) return text;
  }
}

function port(addr) {
  return addr ? addr.slice(addr.lastIndexOf(':') + 1) : null;
}

function duration(secs) {
  const d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24;
  const m = Math.floor(secs / 60) % 60, s = secs % 60;
  return (d ? d + ' d ' : '') + (d || h ? h + ' h ' : '') + m + ' min ' + (d ? '' : s + ' s');
}

// ---- signing in and out ----------------------------------------------------------------

function signedIn(me) {
  state.csrf = me.csrf_token;
  state.me = me;
  state.selected = state.selected || me.account_sid;
  $('who').textContent = me.friendly_name + ' <' + me.email_address + '> · ' + me.role;
  $('sign-out').hidden = false;
  $('sign-in-view').hidden = true;
  $('app').hidden = false;
  const admin = me.role === 'Administrator';
  for (const node of document.querySelectorAll('.admin-only')) node.hidden = !admin;
  stopTimers();
  refreshAll();
  every(1000, () => refreshRegistrations(true));
  every(5000, () => refreshAccounts(true));
  every(5000, () => refreshClients(true));
  every(5000, () => refreshBox(true));
}

// A background refresh: an ended session signs out (in call); the box not answering is said.
function every(ms, refresh) {
  state.timers.push(setInterval(() => {
    if (state.paused) return;
    const running = refresh().catch((err) => { if (err.status === 0) notify(err.message); });
    state.polls.add(running);
    running.finally(() => state.polls.delete(running));
  }, ms));
}

// Runs `work` with the background refreshes paused and none in flight: closing an account
// makes reads of it fail, and a refresh sent just before must not be answered after.
async function quietly(work) {
  state.paused = true;
  try {
    await Promise.all([...state.polls]);
    await work();
  } finally {
    state.paused = false;
  }
}

function signedOut(message) {
  stopTimers();
  state.shownAccounts = state.shownClients = null;
  state.csrf = null;
  state.me = null;
  state.selected = null;
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('sign-in-view').hidden = false;
  notify(message || '', 'info');
  $('sign-in-user').focus();
}

function stopTimers() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
}

async function signIn(user, password) {
  const me = await call('POST', '/console/session', { User: user, Password: password });
  signedIn(me);
}

// ---- accounts --------------------------------------------------------------------------

async function loadTree(poll) {
  const me = await call('GET', account(state.me.account_sid) + '.json', null, { poll });
  let below = [];
  if (state.me.role === 'Administrator') below = await call('GET', API + '/Accounts.json', null, { poll });
  const children = new Map();
  for (const child of below) {
    const list = children.get(child.owner_account_sid) || [];
    list.push(child);
    children.set(child.owner_account_sid, list);
  }
  const flat = [];
  const walk = (node, depth) => {
    flat.push({ account: node, depth });
    for (const child of children.get(node.sid) || []) walk(child, depth + 1);
  };
  walk(me, 0);
  return flat;
}

async function count(path, poll) {
  const page = await call('GET', path + '.json?PageSize=1', null, { poll });
  return page.total;
}

async function refreshAccounts(poll) {
  const flat = await loadTree(poll);
  const counts = await Promise.all(flat.map(async ({ account: a }) => {
    if (a.status === 'closed') return ['', ''];
    return Promise.all([count(account(a.sid) + '/Clients', poll), count(account(a.sid) + '/Registrations', poll)]);
  }));
  state.accounts = flat;
  if (!flat.some(({ account: a }) => a.sid === state.selected)) state.selected = state.me.account_sid;
  renderAccounts(counts);
}

function renderAccounts(counts) {
  // Rebuilt only when something changed, so that a refresh never takes the keyboard's focus.
  const shown = JSON.stringify([state.accounts, counts, state.selected, state.domains]);
  if (shown === state.shownAccounts) return;
  state.shownAccounts = shown;
  const body = $('account-tree').tBodies[0];
  const rows = state.accounts.map(({ account: a, depth }, i) => {
    const name = el('span', { class: 'name' }, el('span', { text: a.friendly_name }), el('small', { text: a.email_address }),
      el('small', { class: 'domain', text: state.domains[a.organization_sid] || '' }));
    name.style.paddingLeft = depth * 1.2 + 'rem';
    const row = el('tr', { 'data-sid': a.sid },
      cell('Account', name),
      cell('Role', a.role),
      cell('Status', a.status, 'status-' + a.status),
      cell('Clients', counts[i][0]),
      cell('Live', counts[i][1]),
      cell('Actions', actionsFor(a, depth), 'actions'));
    if (a.sid === state.selected) row.className = 'selected';
    return row;
  });
  body.replaceChildren(...rows);
  const parent = $('new-account-parent');
  const keep = parent.value;
  parent.replaceChildren(...state.accounts
    .filter(({ account: a }) => a.status === 'active')
    .map(({ account: a, depth }) => el('option', { value: a.sid, text: '\u2003'.repeat(depth) + a.email_address })));
  if (keep) parent.value = keep;
  if (!parent.value && parent.options.length) parent.selectedIndex = 0;
}

function actionsFor(a, depth) {
  const box = el('span');
  const label = a.email_address;
  if (a.sid !== state.selected) box.append(button('Show', () => select(a.sid), 'quiet', 'Show clients of ' + label));
  const admin = state.me.role === 'Administrator';
  if (!admin || depth === 0 || a.status === 'closed') return box;
  if (a.status === 'active') box.append(button('Suspend', () => setStatus(a, 'suspended'), 'quiet', 'Suspend ' + label));
  else box.append(button('Activate', () => setStatus(a, 'active'), 'quiet', 'Activate ' + label));
  box.append(button('Close', () => closeAccount(a), 'danger', 'Close ' + label));
  return box;
}

function setStatus(a, status) {
  act(async () => {
    await call('POST', account(a.sid) + '.json', { Status: status });
    await refreshAccounts(false);
  }, a.email_address + ' is now ' + status + '.');
}

async function closeAccount(a) {
  const below = state.accounts.filter(({ account: x }) => x.owner_account_sid === a.sid).length;
  const sure = await ask('Close ' + a.email_address + '?',
    'Closing is final: the account' + (below ? ', its sub-accounts' : '') +
    ' and all their phones stop working at once, and cannot be re-activated.',
    { ok: 'Close account', danger: true });
  if (!sure) return;
  act(() => quietly(async () => {
    await call('DELETE', account(a.sid) + '.json');
    await refreshAccounts(false);
    await Promise.all([refreshClients(), refreshRegistrations(false)]);
  }), a.email_address + ' is closed.');
}

function select(sid) {
  state.selected = sid;
  state.clientPage = 0;
  $('issued').hidden = true;
  act(async () => {
    await Promise.all([refreshAccounts(false), refreshClients(), refreshRegistrations(false)]);
  });
}

function selectedAccount() {
  const found = state.accounts.find(({ account: a }) => a.sid === state.selected);
  return found ? found.account : null;
}

// ---- clients ---------------------------------------------------------------------------

async function refreshClients(poll = false) {
  const owner = selectedAccount();
  $('clients-title').textContent = 'Clients of ' + (owner ? owner.email_address : '…');
  const closed = !owner || owner.status === 'closed';
  $('new-client-box').hidden = closed;
  if (closed) {
    // A closed account has no clients any more, and the API says so with an error.
    $('client-list').tBodies[0].replaceChildren(el('tr', {}, cell('', 'This account is closed.')));
    $('clients-range').textContent = '';
    $('clients-prev').disabled = $('clients-next').disabled = true;
    state.shownClients = null;
    return;
  }
  const page = await call('GET', account(owner.sid) + '/Clients.json?Page=' + state.clientPage + '&PageSize=' + PAGE_SIZE,
    null, { poll });
  if (page.clients.length === 0 && state.clientPage > 0) {
    state.clientPage -= 1;
    return refreshClients(poll);
  }
  // As for the tree: an unchanged page is left alone, so a refresh keeps the focus.
  const shown = JSON.stringify([owner.sid, page]);
  if (shown === state.shownClients) return;
  state.shownClients = shown;
  const rows = page.clients.map((c) => el('tr', {},
    cell('Login', c.login),
    cell('Friendly name', c.friendly_name),
    cell('Status', c.status === '1' ? 'enabled' : 'disabled', 'status-' + c.status),
    cell('Live', c.registrations),
    cell('Actions', clientActions(c), 'actions')));
  $('client-list').tBodies[0].replaceChildren(...rows);
  $('clients-range').textContent = page.total === 0 ? 'No clients yet'
    : (page.start + 1) + '–' + (page.end + 1) + ' of ' + page.total;
  $('clients-prev').disabled = state.clientPage === 0;
  $('clients-next').disabled = !page.next_page_uri;
}

function clientPath(c) {
  return account(c.account_sid) + '/Clients/' + encodeURIComponent(c.sid);
}

function clientActions(c) {
  const on = c.status === '1';
  return el('span', {},
    button(on ? 'Disable' : 'Enable', () => act(async () => {
      await call('POST', clientPath(c) + '.json', { Status: on ? '0' : '1' });
      await Promise.all([refreshClients(), refreshRegistrations(false)]);
    }, c.login + (on ? ' is disabled: its phones are unregistered.' : ' is enabled.')), 'quiet', (on ? 'Disable ' : 'Enable ') + c.login),
    button('New password', () => newClientPassword(c), 'quiet', 'New password for ' + c.login),
    button('Delete', () => deleteClient(c), 'danger', 'Delete ' + c.login));
}

async function newClientPassword(c) {
  const password = await ask('New password for ' + c.login,
    'The phone stops registering until it is given the new password.',
    { input: { label: 'Password', value: generatePassword() }, ok: 'Set password' });
  if (password === null) return;
  act(async () => {
    const updated = await call('POST', clientPath(c) + '.json', { Password: password });
    showSettings(updated, password);
  });
}

async function deleteClient(c) {
  const sure = await ask('Delete ' + c.login + '?', 'Its phones are unregistered at once and it cannot be undone.',
    { ok: 'Delete client', danger: true });
  if (!sure) return;
  act(async () => {
    await call('DELETE', clientPath(c) + '.json');
    await Promise.all([refreshClients(), refreshRegistrations(false)]);
  }, c.login + ' is deleted.');
}

function showSettings(client, password) {
  const box = state.box || { listeners: {} };
  const host = location.hostname;
  const sip = port(box.listeners.sip), tls = port(box.listeners.sip_tls);
  const lines = [
    'User name (login): ' + client.login,
    'Authentication user: ' + client.login,
    'Password: ' + password,
    'Domain (realm): ' + (client.sip_domain || box.sip_domain || host),
    'Registrar / outbound proxy: ' + host,
  ];
  if (sip) lines.push('UDP and TCP: port ' + sip);
  if (tls) lines.push('TLS: port ' + tls + (box.tls_sha256 ? ' (certificate SHA-256 ' + box.tls_sha256 + ')' : ''));
  $('issued-text').textContent = lines.join('\n');
  $('issued').hidden = false;
  $('issued-copy').focus();
}

// ---- registrations ---------------------------------------------------------------------

async function refreshRegistrations(poll) {
  const owner = selectedAccount();
  if (!owner || !state.csrf) return;
  $('registrations-title').textContent = 'Live registrations of ' + owner.email_address;
  if (owner.status === 'closed') {
    $('registration-list').tBodies[0].replaceChildren(el('tr', {}, cell('', 'This account is closed.')));
    return;
  }
  const list = await call('GET', account(owner.sid) + '/Registrations.json', null, { poll });
  const rows = list.map((r) => el('tr', { 'data-client': r.client_sid },
    cell('Login', r.login), cell('Contact', r.contact), cell('User agent', r.user_agent || '—'),
    cell('Source', r.source), cell('Transport', r.transport), cell('Seconds left', r.expires)));
  const body = $('registration-list').tBodies[0];
  if (rows.length === 0) rows.push(el('tr', {}, cell('', 'No phone is registered.')));
  body.replaceChildren(...rows);
  $('registrations-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + '; refreshed every second.';
}

// ---- the box ---------------------------------------------------------------------------

async function refreshBox(poll) {
  const box = await call('GET', API + '/Box.json', null, { poll });
  state.box = box;
  // Each account's organization, shown by its SIP domain in the tree.
  const orgs = await call('GET', API + '/Organizations.json', null, { poll });
  state.domains = Object.fromEntries(orgs.map((o) => [o.sid, o.domain_name]));
  const facts = [
    ['Version', box.version],
    ['Up for', duration(box.uptime)],
    ['SIP domain', box.sip_domain],
  ];
  for (const [name, addr] of Object.entries(box.listeners)) facts.push(['Listener ' + name, addr || 'off']);
  facts.push(['Certificate SHA-256', box.tls_sha256 || 'no TLS']);
  facts.push(['Public key pin', box.tls_pin || 'no TLS']);
  $('box-facts').replaceChildren(...facts.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })]));
  const failures = box.recent_auth_failures;
  $('failures-box').hidden = !failures;
  if (!failures) return;
  const rows = failures.map((f) => el('tr', {}, cell('When', f.date), cell('Log line', f.line)));
  if (rows.length === 0) rows.push(el('tr', {}, cell('', 'None since the box started.')));
  $('failure-list').tBodies[0].replaceChildren(...rows);
}

function refreshAll() {
  act(async () => {
    await refreshBox(false);
    await refreshAccounts(false);
    await Promise.all([refreshClients(), refreshRegistrations(false)]);
  });
}

// ---- forms -----------------------------------------------------------------------------

function wire() {
  wireSession();
  wireAccounts();
  wireClients();
  wirePassword();
}

function wireSession() {
  $('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    const password = $('sign-in-password');
    act(async () => {
      await signIn($('sign-in-user').value.trim(), password.value);
      password.value = '';
    });
  });
  $('sign-out').addEventListener('click', () => act(async () => {
    await call('DELETE', '/console/session');
    signedOut('You are signed out.');
  }));
}

function wireAccounts() {
  $('new-account').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    const params = { EmailAddress: form.EmailAddress.value.trim(), Password: form.Password.value, Role: form.Role.value };
    if (form.FriendlyName.value.trim()) params.FriendlyName = form.FriendlyName.value.trim();
    act(async () => {
      const made = await call('POST', account(form.Parent.value) + '.json', params);
      form.reset();
      $('new-account-box').open = false;
      await refreshAccounts(false);
      notify('Sub-account ' + made.email_address + ' is created.', 'info');
    });
  });
}

function wireClients() {
  $('new-client').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    const password = form.Password.value;
    const params = { Login: form.Login.value.trim(), Password: password };
    if (form.FriendlyName.value.trim()) params.FriendlyName = form.FriendlyName.value.trim();
    act(async () => {
      const made = await call('POST', account(state.selected) + '/Clients.json', params);
      form.reset();
      form.Password.value = generatePassword();
      showSettings(made, password);
      await Promise.all([refreshClients(), refreshAccounts(false)]);
    });
  });
  $('new-client-generate').addEventListener('click', () => { $('new-client-password').value = generatePassword(); });
  $('new-client-password').value = generatePassword();
  $('issued-copy').addEventListener('click', () => act(async () => {
    await navigator.clipboard.writeText($('issued-text').textContent);
  }, 'Copied.'));
  $('issued-done').addEventListener('click', () => { $('issued').hidden = true; $('issued-text').textContent = ''; });
  $('clients-prev').addEventListener('click', () => { state.clientPage -= 1; act(refreshClients); });
  $('clients-next').addEventListener('click', () => { state.clientPage += 1; act(refreshClients); });
}

function wirePassword() {
  $('change-password').addEventListener('submit', (event) => {
    event.preventDefault();
    const first = $('password-new'), again = $('password-again');
    if (first.value !== again.value) { notify('The two passwords differ.'); return; }
    act(async () => {
      const email = state.me.email_address;
      const password = first.value;
      await call('POST', account(state.me.account_sid) + '.json', { Password: password });
      // The new password ended this session with every other one: open a new one with it.
      state.csrf = null;
      await signIn(email, password);
      first.value = again.value = '';
    }, 'Your password is changed; other sessions of this account are signed out.');
  });
}

async function start() {
  wire();
  try {
    const me = await call('GET', '/console/session');
    if (me.signed_in) signedIn(me); else signedOut('');
  } catch (err) {
    signedOut(err.message);
  }
}

document.addEventListener('DOMContentLoaded', start);
