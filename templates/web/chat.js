(() => {
  const meta = name => document.querySelector(`meta[name="${name}"]`);
  const csrf = meta('csrf-token').content;
  // Someone who joined elsewhere (the Official Account's chat) gets the menu, not the invite form.
  const joined = meta('linli-joined').content === '1';
  const opening = meta('linli-open');  // a link's view to press on load
  const MAX_TEXT = parseInt(meta('linli-max-text').content, 10) || 20000;  // what the server takes at all
  let lang = meta('linli-lang').content;
  // The page's words in the person's language; a language switch (/lang) sends the new ones.
  let words = JSON.parse(meta('linli-words').content);
  const say = (key, values) => (words[key] || key).replace(/\{(\w+)\}/g, (_, k) => String((values || {})[k] ?? ''));
  // The bot's own addresses: only these become links (a resident's typed address stays text).
  const own = [location.origin, meta('linli-address').content]
    .filter(Boolean).map(a => a.replace(/\/+$/, ''));
  const isOwn = url => own.some(a => url === a || url.startsWith(a + '/'));
  const log = document.getElementById('log');
  const join = document.getElementById('join');
  const menu = document.getElementById('menu');
  const text = document.getElementById('text');
  const sendBtn = document.getElementById('send');
  const photoBtn = document.getElementById('photo-btn');
  const micBtn = document.getElementById('mic-btn');
  const largeBtn = document.getElementById('large-btn');
  const recording = document.getElementById('recording');
  const viewer = document.getElementById('viewer');
  const viewerImg = document.getElementById('viewer-img');
  const PAGE = 200;
  let last = 0, busy = false, polling = false, pinned = true;
  const seen = new Set();
  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 10);

  // Bot texts may carry the bot's own web addresses (a poll's published receipts): those become links,
  // built as nodes. Any other address, e.g. one a resident typed into a report, stays text.
  function appendText(parent, text, links) {
    const url = /https?:\/\/[^\s<>"'，。；）]+/g;
    let at = 0;
    for (const m of links ? text.matchAll(url) : []) {
      if (!isOwn(m[0])) continue;
      parent.appendChild(document.createTextNode(text.slice(at, m.index)));
      const a = el('a', '', m[0]);
      a.href = m[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      parent.appendChild(a);
      at = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(at)));
  }

  function el(tag, cls, content) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined) node.textContent = content;  // never innerHTML: user text stays text
    return node;
  }

  const toBottom = () => { log.scrollTop = log.scrollHeight; pinned = true; };
  log.addEventListener('scroll', () => { pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 80; });

  function setBusy(value) {
    busy = value;
    sendBtn.disabled = value;
    photoBtn.disabled = value;
    micBtn.disabled = value;
  }

  // The page's labels in the current words: the header, the box, the buttons, the join form.
  function relabel() {
    document.documentElement.lang = lang === 'zh_CN' ? 'zh-CN' : 'en';
    for (const node of document.querySelectorAll('.avatar')) node.textContent = lang === 'zh_CN' ? '邻' : 'L';
    for (const node of document.querySelectorAll('[data-w]')) node.textContent = say(node.dataset.w);
    for (const node of document.querySelectorAll('[data-w-placeholder]')) node.placeholder = say(node.dataset.wPlaceholder);
    for (const node of document.querySelectorAll('[data-w-label]')) {
      node.setAttribute('aria-label', say(node.dataset.wLabel));
      if (node.title) node.title = say(node.dataset.wLabel);
    }
  }

  // The bottom menu follows the person's roles: the send answer carries it after every turn.
  function drawMenu(items) {
    const now = JSON.stringify(items.map(i => [i.command, i.label]));
    if (menu.dataset.drawn === now) return;
    menu.dataset.drawn = now;
    menu.replaceChildren();
    for (const item of items) {
      const b = el('button');
      b.type = 'button';
      b.dataset.command = item.command;
      const icon = el('span', 'icon-line', item.icon);
      icon.setAttribute('aria-hidden', 'true');
      b.append(icon, el('span', 'label', item.label));
      menu.appendChild(b);
    }
  }
  menu.addEventListener('click', e => {
    const b = e.target.closest('button');
    if (b) send({button: 'cmd:' + b.dataset.command, label: b.querySelector('.label').textContent});
  });

  // The buttons of every answer before the person's latest own message are spent: shown inactive.
  // Pushed messages (a rating asked for, an approval, a notice to acknowledge) keep theirs.
  function spendButtons() {
    for (const b of log.querySelectorAll('.buttons:not(.pushed) button:not(:disabled)')) {
      b.disabled = true;
      b.classList.add('spent');
    }
  }

  function openImage(src, alt) {
    viewerImg.src = src;
    viewerImg.alt = alt;
    viewer.classList.remove('natural');
    viewer.classList.remove('hidden');
    document.getElementById('viewer-close').focus();
  }
  function closeImage() {
    if (viewer.classList.contains('hidden')) return;
    viewer.classList.add('hidden');
    viewerImg.removeAttribute('src');
  }
  document.getElementById('viewer-close').addEventListener('click', closeImage);
  viewerImg.addEventListener('click', () => viewer.classList.toggle('natural'));  // fit the width ↔ full size
  document.addEventListener('keydown', e => { if (e.key === 'Escape') closeImage(); });

  function picture(src) {
    const img = el('img');
    img.addEventListener('load', () => { if (pinned) toBottom(); });  // the photo grows the log after it loads
    img.src = src;
    img.alt = say('photo_alt');
    img.title = say('image_open');
    img.tabIndex = 0;
    img.setAttribute('role', 'button');
    img.addEventListener('click', () => openImage(img.src, img.alt));
    img.addEventListener('keydown', e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openImage(img.src, img.alt); } });
    return img;
  }

  function voiceNode(src, seconds) {
    const box = el('div', 'voice');
    const audio = el('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.src = src;
    const label = say('voice') + (seconds ? ' · ' + say('seconds', {n: seconds}) : '');
    audio.setAttribute('aria-label', label);
    box.append(audio, el('span', '', label));
    return box;
  }

  function show(msg) {
    if (seen.has(msg.id)) return;
    seen.add(msg.id);
    last = Math.max(last, msg.id);
    join.classList.add('hidden');
    menu.classList.remove('hidden');
    if (!msg.outgoing) spendButtons();  // the person spoke: what the bot offered before is spent
    const row = el('div', 'row' + (msg.outgoing ? '' : ' me'));
    if (msg.outgoing) {
      const avatar = el('div', 'avatar', lang === 'zh_CN' ? '邻' : 'L');
      avatar.setAttribute('aria-hidden', 'true');
      row.appendChild(avatar);
    }
    const bubble = el('div', 'bubble');
    for (const name of msg.photos || []) bubble.appendChild(picture('/chat/files/' + encodeURIComponent(name)));
    for (const [name, seconds] of msg.voices || []) {
      bubble.appendChild(voiceNode('/chat/files/' + encodeURIComponent(name), seconds));
    }
    if (msg.text) appendText(bubble, msg.text, msg.outgoing);  // only the bot's own texts get links
    if ((msg.buttons && msg.buttons.length) || msg.ask_location) {
      const box = el('div', msg.pushed ? 'buttons pushed' : 'buttons');
      for (const line of msg.buttons || []) {
        const lineEl = el('div', 'line');
        for (const [label, data] of line) {
          const b = el('button', data === msg.primary ? 'primary' : '', label);
          b.type = 'button';
          b.dataset.data = data;
          b.addEventListener('click', () => press(box, b, {button: data, label: label.slice(0, 100)}));
          lineEl.appendChild(b);
        }
        box.appendChild(lineEl);
      }
      if (msg.ask_location && navigator.geolocation) {
        const b = el('button', '', msg.location_label);
        b.type = 'button';
        b.addEventListener('click', () => navigator.geolocation.getCurrentPosition(
          p => press(box, b, {latitude: p.coords.latitude, longitude: p.coords.longitude}),
          () => notice(say('no_location'), true),
          {timeout: 15000, maximumAge: 60000}));
        box.appendChild(b);
      }
      bubble.appendChild(box);
    }
    row.appendChild(bubble);
    log.appendChild(row);
    toBottom();
  }

  function notice(message, error, reload) {
    const node = el('div', 'notice' + (error ? ' error' : ''), message);
    node.setAttribute('role', error ? 'alert' : 'status');
    if (reload) {
      const b = el('button', '', say('reload'));
      b.type = 'button';
      b.addEventListener('click', () => location.reload());
      node.appendChild(b);
    }
    log.appendChild(node);
    toBottom();
  }

  function problem(e, what, media) {
    if (e.reason === 'join_first') return notice(say('join_first'), true);
    if (e.reason === 'quota') return notice(say('quota'), true);
    if (e.status === 429) return notice(say('rate', {wait: e.retryAfter > 0 ? e.retryAfter : 30}), true);
    if (e.status === 403) return notice(say('expired'), true, true);
    if (e.status === 413) return notice(say('too_large'), true);
    if (e.status === 415) return notice(say(media === 'voice' ? 'bad_voice' : 'bad_photo'), true);
    if (!e.status) return notice(say(what) + '：' + say('offline'), true);
    notice(say(what) + ': ' + e.message, true);
  }

  async function call(url, options) {
    const response = await fetch(url, Object.assign({credentials: 'same-origin'}, options));
    if (!response.ok) {
      let detail = '';
      try { const body = await response.json(); if (typeof body.detail === 'string') detail = body.detail; } catch (e) {}
      const error = new Error(detail || response.statusText || String(response.status));
      error.status = response.status;
      error.reason = response.headers.get('X-Linli-Reason') || '';
      error.retryAfter = parseInt(response.headers.get('Retry-After') || '', 10);
      throw error;
    }
    return response.json();
  }

  // What a send's answer says of the page: the menu for the person's roles, their language.
  function follow(data) {
    if (data.menu) drawMenu(data.menu);
    if (data.locale && data.locale !== lang && data.words) {
      lang = data.locale;
      words = data.words;
      relabel();
    }
  }

  // Sends one message; the answer's messages when the server took it, null otherwise.
  async function send(payload) {
    if (busy) return null;
    setBusy(true);
    try {
      const body = Object.assign({id: newId(), text: ''}, payload);
      const data = await call(`/chat/api/send?after=${last}&lang=${encodeURIComponent(lang)}`, {
        method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify(body)});
      const fresh = data.messages.filter(m => !seen.has(m.id));
      setBusy(false);  // before the answer shows: a tap on its new buttons must not be swallowed
      data.messages.forEach(show);
      follow(data);
      return fresh;
    } catch (e) { problem(e, 'send_failed'); return null; }
    finally { setBusy(false); }
  }

  // A pressed button answers its message: the message's buttons go grey, the chosen one stays marked.
  async function press(box, button, payload) {
    if (busy || button.disabled) return;
    const all = box.querySelectorAll('button');
    all.forEach(b => { b.disabled = true; });
    button.classList.add('chosen');
    if (!(await send(payload))) {
      all.forEach(b => { b.disabled = false; });
      button.classList.remove('chosen');
    }
  }

  function pendingRow(media) {
    const row = el('div', 'row me pending');
    const bubble = el('div', 'bubble');
    const status = el('div', 'status', say('sending'));
    bubble.append(media, status);
    row.appendChild(bubble);
    log.appendChild(row);
    toBottom();
    return [row, status];
  }

  // A photo or a voice, with what is typed in the box as its caption.
  async function upload(kind, file, fields, media) {
    if (busy) return;
    setBusy(true);
    const caption = text.value.trim();
    const form = new FormData();
    form.append('file', file, kind === 'voice' ? 'voice' : (file.name || 'photo'));
    form.append('id', newId());
    form.append('caption', caption);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    text.value = '';
    grow();
    const [row, status] = pendingRow(media);
    try {
      const data = await call(`/chat/api/${kind}?after=${last}`, {method: 'POST', headers: {'X-CSRF-Token': csrf}, body: form});
      row.remove();
      data.messages.forEach(show);
      // A caption refused (too long) goes back into the box; the picture itself was kept.
      if (caption && !text.value && data.messages.some(m => m.keeps_input)) { text.value = caption; grow(); }
    } catch (e) {
      row.classList.replace('pending', 'failed');
      status.textContent = say('not_sent');
      if (caption && !text.value) { text.value = caption; grow(); }
      problem(e, kind === 'voice' ? 'voice_failed' : 'photo_failed', kind);
    } finally { setBusy(false); }
  }

  function sendPhoto(file) {
    const preview = URL.createObjectURL(file);
    const img = el('img');
    img.src = preview;
    img.alt = say('photo_alt');
    return upload('photo', file, {}, img).finally(() => URL.revokeObjectURL(preview));
  }

  async function poll(force) {
    if (polling || (document.hidden && !force)) return;
    polling = true;
    try {
      for (let page = 0; page < 10; page++) {  // catch up after a long absence, a page at a time
        const data = await call(`/chat/api/messages?after=${last}&lang=${encodeURIComponent(lang)}`);
        data.messages.forEach(show);
        follow(data);
        if (data.messages.length < PAGE || last === 0) break;
      }
    } catch (e) {}
    finally { polling = false; }
  }

  function grow() {
    text.style.height = 'auto';
    text.style.height = Math.min(text.scrollHeight, 140) + 'px';
  }

  sendBtn.addEventListener('click', async () => {
    const value = text.value.trim();
    if (!value || busy) return;
    const length = [...value].length;  // characters as the server counts them
    if (length > MAX_TEXT) {  // refused here: the text stays in the box
      notice(say('too_long', {max: MAX_TEXT, n: length}), true);
      return;
    }
    text.value = '';
    grow();
    const fresh = await send({text: value});
    // Not taken, or refused by the bot (too long for this step): nothing typed is lost.
    if ((!fresh || fresh.some(m => m.keeps_input)) && !text.value) { text.value = value; grow(); }
  });
  text.addEventListener('input', grow);
  text.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendBtn.click(); }
  });
  photoBtn.addEventListener('click', () => document.getElementById('photo').click());
  document.getElementById('photo').addEventListener('change', e => {
    const file = e.target.files[0];
    e.target.value = '';
    if (file) sendPhoto(file);
  });

  // Hold to talk: press and hold the microphone, release to send; sliding off it or a press shorter than
  // a second cancels. Without a microphone or MediaRecorder the page says so and offers typing instead.
  let recorder = null, chunks = [], started = 0, cancelled = false, stream = null;
  const canRecord = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  function stopStream() { if (stream) { stream.getTracks().forEach(t => t.stop()); stream = null; } }
  async function startRecording(e) {
    e.preventDefault();
    if (busy || recorder) return;
    if (!canRecord()) { notice(say('no_mic'), true); return; }
    if (e.pointerId !== undefined && micBtn.setPointerCapture) {
      try { micBtn.releasePointerCapture(e.pointerId); } catch (err) {}
    }
    cancelled = false;
    const holding = {released: false};
    micBtn.holding = holding;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (err) {
      notice(say(err && err.name === 'NotAllowedError' ? 'mic_denied' : 'no_mic'), true);
      return;
    }
    if (holding.released) { stopStream(); notice(say('too_short')); return; }  // let go before the microphone opened
    chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener('dataavailable', ev => { if (ev.data && ev.data.size) chunks.push(ev.data); });
    recorder.addEventListener('stop', finishRecording);
    recorder.start();
    started = Date.now();
    micBtn.classList.add('held');
    recording.classList.remove('hidden');
  }
  function stopRecording(cancel) {
    if (micBtn.holding) micBtn.holding.released = true;
    // Already stopping: the first word counts (a lifted finger also "leaves" the button afterwards).
    if (!recorder || recorder.state === 'inactive') return;
    cancelled = cancel;
    recorder.stop();
  }
  function finishRecording() {
    const type = recorder.mimeType || 'audio/webm';
    const seconds = Math.round((Date.now() - started) / 1000);
    recorder = null;
    stopStream();
    micBtn.classList.remove('held');
    recording.classList.add('hidden');
    if (cancelled) { notice(say('cancelled')); return; }
    if (seconds < 1 || !chunks.length) { notice(say('too_short')); return; }
    const blob = new Blob(chunks, {type});
    const shown = el('div', 'voice', '🎤 ' + say('voice') + ' · ' + say('seconds', {n: seconds}));
    upload('voice', blob, {seconds: String(Math.min(seconds, 300))}, shown);
  }
  micBtn.addEventListener('pointerdown', startRecording);
  micBtn.addEventListener('pointerup', () => stopRecording(false));
  micBtn.addEventListener('pointerleave', () => stopRecording(true));  // slid away: not sent
  micBtn.addEventListener('pointercancel', () => stopRecording(true));
  micBtn.addEventListener('contextmenu', e => e.preventDefault());  // a long press is not a menu
  micBtn.addEventListener('keydown', e => {  // keyboard: hold Space or Enter
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) startRecording(e);
  });
  micBtn.addEventListener('keyup', e => { if (e.key === ' ' || e.key === 'Enter') stopRecording(false); });

  // 大字: larger text, remembered for the person.
  largeBtn.addEventListener('click', async () => {
    const on = !document.body.classList.contains('large');
    document.body.classList.toggle('large', on);
    largeBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    try {
      await call('/chat/api/prefs', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({large_text: on})});
    } catch (e) {}  // the switch still holds for this page
    if (pinned) toBottom();
  });

  // The join form's buttons show plain words in the person's bubble, not the command behind them.
  document.getElementById('join-btn').addEventListener('click', () => {
    const input = document.getElementById('invite');
    const code = input.value.trim();
    if (code) send({text: '/start ' + code, label: say('join')}); else input.focus();
  });
  // Straight to the home chooser (a registration left half-way is taken up where it stopped).
  const nocode = document.getElementById('nocode-btn');
  nocode.addEventListener('click', () => send({button: nocode.dataset.press, label: say('nocode')}));
  const demo = document.getElementById('demo-btn');  // only while the public demo is on
  if (demo) demo.addEventListener('click', () => send({text: '/start DEMO-OWNER', label: say('demo')}));
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });

  (async () => {
    await poll(true);
    if (last === 0) (joined ? menu : join).classList.remove('hidden');
    if (opening) {
      // Pressed once, as if tapped: the address drops ?open= first, so a reload does not press it again.
      const url = new URL(location.href);
      url.searchParams.delete('open');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
      await send({button: opening.content, label: opening.dataset.label});
    }
    setInterval(poll, 4000);
  })();
})();
