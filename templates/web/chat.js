(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  // Someone who joined elsewhere (the Official Account's chat) gets the menu, not the invite form.
  const joined = document.querySelector('meta[name="linli-joined"]').content === '1';
  const opening = document.querySelector('meta[name="linli-open"]');  // a link's view to press on load
  // The bot's own addresses: only these become links (a resident's typed address stays text).
  const own = [location.origin, document.querySelector('meta[name="linli-address"]').content]
    .filter(Boolean).map(a => a.replace(/\/+$/, ''));
  const isOwn = url => own.some(a => url === a || url.startsWith(a + '/'));
  const log = document.getElementById('log');
  const join = document.getElementById('join');
  const menu = document.getElementById('menu');
  const text = document.getElementById('text');
  const sendBtn = document.getElementById('send');
  const photoBtn = document.getElementById('photo-btn');
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
  }

  function show(msg) {
    if (seen.has(msg.id)) return;
    seen.add(msg.id);
    last = Math.max(last, msg.id);
    join.classList.add('hidden');
    menu.classList.remove('hidden');
    const row = el('div', 'row' + (msg.outgoing ? '' : ' me'));
    if (msg.outgoing) row.appendChild(el('div', 'avatar', '邻'));
    const bubble = el('div', 'bubble');
    for (const name of msg.photos || []) {
      const img = el('img');
      img.addEventListener('load', () => { if (pinned) toBottom(); });  // the photo grows the log after it loads
      img.src = '/chat/files/' + encodeURIComponent(name);
      img.alt = 'photo';
      bubble.appendChild(img);
    }
    if (msg.text) appendText(bubble, msg.text, msg.outgoing);  // only the bot's own texts get links
    if ((msg.buttons && msg.buttons.length) || msg.ask_location) {
      const box = el('div', 'buttons');
      for (const line of msg.buttons || []) {
        const lineEl = el('div', 'line');
        for (const [label, data] of line) {
          const b = el('button', '', label);
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
          () => notice('无法获取位置，请点「跳过」或选楼栋 Location unavailable', true),
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
    if (reload) {
      const b = el('button', '', '刷新 Reload');
      b.type = 'button';
      b.addEventListener('click', () => location.reload());
      node.appendChild(b);
    }
    log.appendChild(node);
    toBottom();
  }

  function problem(e, what) {
    if (e.reason === 'join_first') {
      return notice('请先绑定住址或身份，再发送照片 Please join (enter your invite code) before sending photos', true);
    }
    if (e.reason === 'quota') {
      return notice('今天发送的照片已达上限，请明天再发 You have sent as many photos as a day allows', true);
    }
    if (e.status === 429) {
      const wait = e.retryAfter > 0 ? e.retryAfter : 30;
      return notice(`操作太频繁，请 ${wait} 秒后再试 Too many requests, please try again in ${wait} s`, true);
    }
    if (e.status === 403) return notice('页面已过期，请刷新后重试 This page has expired, please reload', true, true);
    if (e.status === 413) return notice('照片太大，请换一张 Photo too large: ' + e.message, true);
    if (e.status === 415) return notice('只能发送 JPEG/PNG/GIF/WebP 照片 Only photos can be sent', true);
    if (!e.status) return notice(what + '：网络不通，请稍后重试 No connection, please try again', true);
    notice(what + ': ' + e.message, true);
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

  // Sends one message; true when the server took it (its answer is shown), false otherwise.
  async function send(payload) {
    if (busy) return false;
    setBusy(true);
    try {
      const body = Object.assign({id: newId(), text: ''}, payload);
      const data = await call('/chat/api/send?after=' + last, {
        method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify(body)});
      data.messages.forEach(show);
      return true;
    } catch (e) { problem(e, '发送失败 Not sent'); return false; }
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

  async function sendPhoto(file) {
    if (busy) return;
    setBusy(true);
    const caption = text.value.trim();
    const form = new FormData();
    form.append('file', file);
    form.append('id', newId());
    form.append('caption', caption);
    text.value = '';
    grow();
    const preview = URL.createObjectURL(file);
    const row = el('div', 'row me pending');
    const bubble = el('div', 'bubble');
    const img = el('img');
    img.src = preview;
    img.alt = 'photo';
    const status = el('div', 'status', '发送中… Sending…');
    bubble.append(img, status);
    row.appendChild(bubble);
    log.appendChild(row);
    toBottom();
    try {
      const data = await call('/chat/api/photo?after=' + last, {method: 'POST', headers: {'X-CSRF-Token': csrf}, body: form});
      row.remove();
      URL.revokeObjectURL(preview);
      data.messages.forEach(show);
    } catch (e) {
      row.classList.replace('pending', 'failed');
      status.textContent = '未发送 Not sent';
      if (caption && !text.value) { text.value = caption; grow(); }
      problem(e, '照片未发送 Photo not sent');
    } finally { setBusy(false); }
  }

  async function poll(force) {
    if (polling || (document.hidden && !force)) return;
    polling = true;
    try {
      for (let page = 0; page < 10; page++) {  // catch up after a long absence, a page at a time
        const data = await call('/chat/api/messages?after=' + last);
        data.messages.forEach(show);
        if (data.messages.length < PAGE || last === 0) break;
      }
    } catch (e) {}
    finally { polling = false; }
  }

  function grow() {
    text.style.height = 'auto';
    text.style.height = Math.min(text.scrollHeight, 120) + 'px';
  }

  sendBtn.addEventListener('click', async () => {
    const value = text.value.trim();
    if (!value || busy) return;
    text.value = '';
    grow();
    if (!(await send({text: value})) && !text.value) { text.value = value; grow(); }  // nothing typed is lost
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
  for (const b of menu.querySelectorAll('button')) {
    b.addEventListener('click', () => send({button: 'cmd:' + b.dataset.command, label: b.textContent}));
  }
  document.getElementById('join-btn').addEventListener('click', () => {
    const input = document.getElementById('invite');
    const code = input.value.trim();
    if (code) send({text: '/start ' + code}); else input.focus();
  });
  document.getElementById('nocode-btn').addEventListener('click', () => send({text: '/start'}));
  const demo = document.getElementById('demo-btn');  // only while the public demo is on
  if (demo) demo.addEventListener('click', () => send({text: '/start DEMO-OWNER'}));
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
