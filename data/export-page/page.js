// The offline page of `pooltag export --format html` (inlined into it, with lunr and the data).
// Every text that comes from the data is put in the page with textContent (the el() helper
// below); nothing from the data is ever parsed as HTML.
//
// The data and the index are gzip-compressed JSON in base64 (a third of the size): the browser
// unpacks them with DecompressionStream, which runs offline from file:// like everything here.
//
// This script stands after the page's first part (every tag and the row a search shows for it)
// and before the rest (owners, builds, the search index, lunr): it shows the first view and
// answers tag searches while the browser is still reading the rest, which it unpacks once that
// view is on screen (or at once, when the address asks for a tag's or a driver's view).
(function () {
  'use strict';
  /** The JSON of one data element (a script element of type application/octet-stream), unpacked, as a promise. */
  function unpack(id) {
    var node = document.getElementById(id);
    var text = node.textContent;
    node.textContent = '';
    if (node.getAttribute('data-encoding') !== 'gzip-base64') return Promise.resolve(JSON.parse(text));
    if (typeof DecompressionStream !== 'function') return Promise.reject(new Error('this browser cannot unpack the page\'s data (no DecompressionStream); open it in a current Edge, Chrome, Firefox or Safari'));
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(JSON.parse);
  }
  function failed(err) {
    var main = document.getElementById('main');
    main.textContent = 'This page cannot show its data: ' + (err && err.message ? err.message : String(err));
  }
  /** The first part, unpacked at once (inflate.js): the parser waits, and the page answers before it reads on. */
  function unpackNow(id) {
    var node = document.getElementById(id);
    var text = node.textContent;
    node.textContent = '';
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(inflateRaw(bytes)));
  }
  var firstPart;
  try {
    firstPart = unpackNow('pooltag-first');
  } catch (err) {
    failed(err);
  }
  if (firstPart) start(firstPart);

  /** A tag's ULONG in hex from its 4 characters (the first part lists the tags whose display form does not give it). */
  function hexOf(t) {
    var u = 0;
    for (var i = 3; i >= 0; i--) u = u * 256 + (t.charCodeAt(i) & 0xff);
    return '0x' + ('0000000' + u.toString(16).toUpperCase()).slice(-8);
  }

  /** Runs `fn` once the browser has read the whole page (the elements after this script). */
  function whenParsed(fn) {
    if (document.readyState !== 'loading') fn();
    else document.addEventListener('DOMContentLoaded', fn);
  }

  function start(first) {
  // Tags as the first part has them; their owners (`o`) and hex (`h`) join with the rest.
  var TAGS = first.t.map(function (t, i) { return { t: t, h: first.hx[i] || hexOf(t), sh: first.sh[i] || null, n: first.n[i] || [], o: null }; });
  var S = first.s, ROWS = first.r;
  var DRIVERS = null, WILD = null;
  var full = null;
  /** The rest of the data (every owner and build), unpacked once; a promise. */
  function loadFull() {
    if (!full) {
      full = new Promise(function (done) { whenParsed(done); }).then(function () { return unpack('pooltag-data'); }).then(function (data) {
        // owners and builds come as arrays of their fields (html.ts)
        data.tags.forEach(function (os, i) {
          TAGS[i].o = os.map(function (a) {
            return a[0] === 'p' ? { s: 'p', c: a[1], o: a[2], desc: a[3], e: a[4], w: a[5], ds: a[6] } : { s: a[0], c: a[1], d: a[2], e: a[3], v: a[4], x: a[5] };
          });
        });
        DRIVERS = data.drivers;
        DRIVERS.forEach(function (v, d) {
          v.n = first.dn[d];
          v.b = v.b.map(function (a) { return { sha: a[0], ver: a[1], arch: a[2], hosts: a[3], company: a[4], product: a[5], desc: a[6], signer: a[7], pdb: a[8], paths: a[9], more: a[10] }; });
        });
        WILD = data.wild;
        document.documentElement.dataset.full = '1';
        if (waiting) { waiting = false; route(); }
        else if (!input.value.trim() && !location.hash.replace(/^#/, '')) renderHome();
        else if (input.value.trim()) renderSearch(input.value);
      });
      full.catch(failed);
    }
    return full;
  }
  var fullTimer = null;
  function scheduleFull(ms) {
    if (full) return;
    clearTimeout(fullTimer);
    fullTimer = setTimeout(loadFull, ms);
  }
  /** A view that needs the rest of the data: shown once it is there. */
  var waiting = false;
  function needFull() {
    if (DRIVERS) return false;
    waiting = true;
    main.textContent = '';
    add(main, el('p', 'muted', 'Loading…'));
    loadFull();
    return true;
  }

  // --- the search index: the same tokens as `pooltag search` -------------------------------
  // Loaded after the first view is on screen: tags are found without it (by their text), and
  // full-text results join in when it is there.
  var TAG_TOKEN = /^t[0-9a-f]{8}$/;
  var stemmer = function (token, i, tokens) {
    return TAG_TOKEN.test(token.toString()) ? token : lunr.stemmer(token, i, tokens);
  };
  var index = null;
  // The index (the larger part) is unpacked and loaded once the first view is on screen and
  // typing pauses: loading it takes the page's thread for a while, and tags are found without it.
  var indexTimer = null, indexStarted = false;
  function scheduleIndex(ms) {
    if (indexStarted) return;
    clearTimeout(indexTimer);
    indexTimer = setTimeout(loadIndex, ms);
  }
  function loadIndex() {
    indexStarted = true;
    // lunr and the index stand after the data, at the end of the page
    loadFull().then(function () {
      lunr.Pipeline.registerFunction(stemmer, 'pooltagStemmer');
      return unpack('pooltag-index');
    }).then(loadIndexJson, function (err) { count.textContent = 'full-text index unavailable: ' + (err && err.message ? err.message : String(err)); });
  }
  function loadIndexJson(indexJson) {
    indexJson.invertedIndex.forEach(function (entry) {
      var p = entry[1];
      indexJson.fields.forEach(function (f) { if (!p[f]) p[f] = {}; });
    });
    index = lunr.Index.load(indexJson);
    document.documentElement.dataset.index = '1';
    if (input.value.trim()) renderSearch(input.value);
  }

  /** `t` + the 8 hex digits of the tag's ULONG (the 4 characters padded with spaces, memory order). */
  function tagToken(s) {
    var t = (s + '    ').slice(0, 4), u = 0;
    for (var i = 3; i >= 0; i--) u = u * 256 + (t.charCodeAt(i) & (i === 3 ? 0x7f : 0xff));
    return 't' + ('0000000' + u.toString(16)).slice(-8);
  }

  var byTag = new Map(), sortedTags = [], byDriver = new Map();
  first.dn.forEach(function (n, d) { if (!byDriver.has(n)) byDriver.set(n, d); });
  TAGS.forEach(function (t, i) { byTag.set(t.t, i); sortedTags.push(i); });

  // --- DOM helpers: text only ----------------------------------------------------------------
  function vis(s) {
    // Control characters and bidi overrides shown escaped, like the CLI's safeText.
    return String(s).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, function (c) {
      var n = c.charCodeAt(0);
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\\t';
      return n < 0x100 ? '\\x' + ('0' + n.toString(16)).slice(-2) : '\\u' + ('000' + n.toString(16)).slice(-4);
    });
  }
  function el(name, cls) {
    var e = document.createElement(name);
    if (cls) e.className = cls;
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(function (x) { add(e, x); });
    else if (typeof c === 'object' && c.nodeType) e.appendChild(c);
    else e.appendChild(document.createTextNode(vis(c)));
  }
  /** A long value cut to `max` characters; the whole value in the tooltip. */
  function clip(s, max) {
    s = vis(s == null ? '' : s);
    if (s.length <= max) return s;
    var span = el('span', 'clip', s.slice(0, max) + '…');
    span.title = s.length > 4000 ? s.slice(0, 4000) + '… (' + s.length + ' characters)' : s;
    return span;
  }
  function link(href, cls, text) {
    var a = el('a', cls, text);
    a.href = href;
    return a;
  }
  var tagHref = function (i) { return '#tag/' + encodeURIComponent(TAGS[i].t); };
  var driverHref = function (d) { return '#driver/' + encodeURIComponent(first.dn[d]); };
  function tagCode(i) { return el('code', 'tag', TAGS[i].t.replace(/ /g, '\u00a0')); }
  function uniq(xs) {
    var seen = new Set(), out = [];
    xs.forEach(function (x) { if (x && !seen.has(x)) { seen.add(x); out.push(x); } });
    return out;
  }
  function vendorsOf(d) {
    var b = DRIVERS[d].b;
    return uniq(b.map(function (x) { return x.company; }).concat(b.map(function (x) { return x.signer; })));
  }
  function productsOf(d) { return uniq(DRIVERS[d].b.map(function (x) { return x.product || x.desc; })); }
  function table(cls, heads, rows) {
    var thead = el('thead', null, el('tr', null, heads.map(function (h) { return el('th', null, h); })));
    var tbody = el('tbody');
    rows.forEach(function (r) { tbody.appendChild(r); });
    return el('table', cls, thead, tbody);
  }
  function badge(kind, text) { return el('span', 'badge ' + kind, text); }
  var SOURCE = { c: ['call site', 'cs'], p: ['pooltag.txt', 'pt'], s: ['string', 'st'] };
  function conf(c) { return el('span', 'conf ' + c, c); }

  // --- search --------------------------------------------------------------------------------
  function tagMatches(q) {
    var out = [], seen = new Set();
    var raw = q.replace(/^["']|["']$/g, '');
    if (/^0x[0-9a-f]{1,8}$/i.test(raw)) {
      var u = parseInt(raw, 16) & 0x7fffffff, s = '';
      for (var k = 0; k < 4; k++) { var b = (u >>> (8 * k)) & 0xff; s += b === 0 ? ' ' : String.fromCharCode(b); }
      raw = s;
    }
    if (raw.length === 0 || raw.length > 4) return out;
    var push = function (i) { if (!seen.has(i)) { seen.add(i); out.push(i); } };
    var exact = byTag.get((raw + '    ').slice(0, 4));
    if (exact !== undefined) push(exact);
    var lower = raw.toLowerCase();
    sortedTags.forEach(function (i) { if (out.length < 40 && TAGS[i].t.indexOf(raw) === 0) push(i); });
    sortedTags.forEach(function (i) { if (out.length < 40 && TAGS[i].t.toLowerCase().indexOf(lower) === 0) push(i); });
    return out;
  }

  /**
   * The word still being typed, as a prefix of the stemmed terms of the index: what it and its
   * stem have in common (`core.sys` is indexed as `core.si`, `fixtures` as `fixtur`), so that a
   * whole word is found as it is typed, not only after the space that ends it.
   */
  function typedPrefix(tok) {
    var raw = tok.toString(), stem = stemmer(tok.clone(), 0, [tok]).toString(), n = 0;
    while (n < raw.length && n < stem.length && raw[n] === stem[n]) n++;
    return raw.slice(0, Math.max(n, 1));
  }

  function fullText(q) {
    var words = q.split(/\s+/).filter(Boolean);
    if (words.length === 0 || !index) return [];
    var open = !/\s$/.test(q); // the last word is still being typed: a prefix
    // Several words: each must match (a tag-sized word may match as a tag instead).
    var all = words.length > 1 ? lunr.Query.presence.REQUIRED : lunr.Query.presence.OPTIONAL;
    try {
      return index.query(function (query) {
        words.forEach(function (w, wi) {
          var asTag = w.length <= 4;
          if (asTag) query.term(tagToken(w), { fields: ['tag'], usePipeline: false, boost: 10 });
          lunr.tokenizer(w).forEach(function (tok) {
            var s = tok.toString();
            if (!s) return;
            var presence = asTag ? lunr.Query.presence.OPTIONAL : all;
            if (open && wi === words.length - 1) query.term(typedPrefix(tok), { usePipeline: false, wildcard: lunr.Query.wildcard.TRAILING, presence: presence });
            else query.term(s, { usePipeline: true, presence: presence });
          });
        });
      });
    } catch (e) {
      return [];
    }
  }

  function search(q) {
    var tags = tagMatches(q.trim());
    var tagSeen = new Set(tags), texts = [], drivers = [], driverSeen = new Set(), wild = [], wildSeen = new Set();
    fullText(q).forEach(function (hit) {
      var target = hit.ref.slice(0, hit.ref.indexOf('.'));
      var n = Number(target.slice(1));
      if (target[0] === 't' && !tagSeen.has(n)) { tagSeen.add(n); texts.push(n); }
      else if (target[0] === 'd' && !driverSeen.has(n)) { driverSeen.add(n); drivers.push(n); }
      else if (target[0] === 'w' && !wildSeen.has(n)) { wildSeen.add(n); wild.push(n); }
    });
    // A driver that owns an exactly matching tag is a result too.
    if (tags.length && TAGS[tags[0]].o && TAGS[tags[0]].t.trimEnd() === q.trim()) {
      TAGS[tags[0]].o.forEach(function (o) { if (o.d >= 0 && !driverSeen.has(o.d)) { driverSeen.add(o.d); drivers.push(o.d); } });
    }
    return { tags: tags, drivers: drivers, texts: texts, wild: wild };
  }

  // --- views ---------------------------------------------------------------------------------
  var main = document.getElementById('main');
  var input = document.getElementById('q');
  var count = document.getElementById('count');
  var LIMIT = 60;

  function ownerName(o) {
    if (o.s === 'p') return o.o;
    return o.d >= 0 ? first.dn[o.d] : '?';
  }
  function ownerCell(o) {
    if (o.s !== 'p' && o.d >= 0) return link(driverHref(o.d), 'drv', clip(first.dn[o.d], 60));
    if (o.s === 'p' && o.ds.length) return [clip(o.o, 60), ' ', link(driverHref(o.ds[0]), 'small', 'scanned')];
    return clip(ownerName(o), 60);
  }
  function ownerVendor(o) {
    if (o.s !== 'p') return o.d >= 0 ? S[first.dv[o.d]] : '';
    return o.ds.length ? S[first.dv[o.ds[0]]] : '';
  }

  var SOURCE_OF = ['c', 'p', 's'], CONF_OF = ['high', 'medium', 'low'];
  /** A tag's best owner as its search row shows it, from the first part: {s, c, d, e | o, desc}. */
  function bestOwner(i) {
    var r = ROWS[i];
    if (!r[0]) return null;
    var o = { s: SOURCE_OF[r[1]], c: CONF_OF[r[2]] };
    if (o.s === 'p') { o.o = S[r[4]]; o.desc = S[r[5]]; o.ds = r[3] >= 0 ? [r[3]] : []; }
    else { o.d = r[3]; o.e = S[r[4]]; }
    return o;
  }
  function tagRows(list) {
    return list.slice(0, LIMIT).map(function (i) {
      var t = TAGS[i], best = bestOwner(i), owners = ROWS[i][0];
      var more = owners > 1 ? el('span', 'muted', ' +' + (owners - 1)) : null;
      var tr = el('tr', 'row',
        el('td', 'tagcell', link(tagHref(i), 'taglink', tagCode(i)), t.sh ? badge('shared', 'shared') : null),
        el('td', 'nowrap', best ? [ownerCell(best), more] : el('span', 'muted', t.n.length ? 'note only' : '—')),
        el('td', best && ownerVendor(best).length <= 30 ? 'nowrap' : null, best ? clip(ownerVendor(best), 50) : ''),
        el('td', null, best ? [badge(SOURCE[best.s][1], SOURCE[best.s][0]), ' ', conf(best.c), best.s !== 'p' ? el('div', 'muted small', clip(best.e, 64)) : null] : ''),
        el('td', 'desc', best ? clip(best.s === 'p' ? best.desc : best.d >= 0 ? S[first.dd[best.d]] : '', 110) : clip(t.n[0] || '', 110)));
      tr.dataset.href = tagHref(i);
      return tr;
    });
  }
  function driverRows(list) {
    return list.slice(0, LIMIT).map(function (d) {
      var v = DRIVERS[d];
      var vers = uniq(v.b.map(function (b) { return b.ver; }));
      var tags = uniq(v.t.map(function (x) { return TAGS[x[0]].t; }));
      var tr = el('tr', 'row',
        el('td', null, link(driverHref(d), 'drv', clip(v.n, 60))),
        el('td', 'mono nowrap', clip(vers.slice(0, 2).join(', ') + (vers.length > 2 ? ' +' + (vers.length - 2) : ''), 40)),
        el('td', null, clip(vendorsOf(d).join(', '), 50)),
        el('td', null, clip(productsOf(d).join(', '), 60)),
        el('td', 'mono small', clip(tags.slice(0, 8).join(' ') + (tags.length > 8 ? ' +' + (tags.length - 8) : ''), 60)));
      tr.dataset.href = driverHref(d);
      return tr;
    });
  }

  function section(title, n, content) {
    return el('section', null, el('h2', null, title, el('span', 'muted', ' ' + n + (n > LIMIT ? ' (first ' + LIMIT + ')' : ''))), content);
  }

  function renderSearch(q) {
    var r = search(q);
    var parts = [];
    var tagHeads = ['Tag', 'Owner', 'Vendor', 'Evidence', 'Description'];
    if (r.tags.length) parts.push(section('Tags', r.tags.length, table('grid', tagHeads, tagRows(r.tags))));
    if (r.drivers.length) parts.push(section('Drivers', r.drivers.length, table('grid', ['Driver', 'Version', 'Vendor', 'Product', 'Tags'], driverRows(r.drivers))));
    if (r.texts.length) parts.push(section('Tags whose owner or description matches', r.texts.length, table('grid', tagHeads, tagRows(r.texts))));
    if (r.wild.length) {
      parts.push(section('pooltag.txt wildcard entries', r.wild.length, table('grid', ['Pattern', 'Binary', 'Description', 'Where'], r.wild.slice(0, LIMIT).map(function (w) {
        var e = WILD[w];
        return el('tr', null, el('td', null, el('code', 'tag', e[0].replace(/ /g, '\u00a0'))), el('td', null, clip(e[1], 60)), el('td', 'desc', clip(e[2], 120)), el('td', 'muted small', clip(e[3], 60)));
      }))));
    }
    count.textContent = r.tags.length + r.drivers.length + r.texts.length + r.wild.length + ' results' + (index ? '' : ' (full-text index loading…)');
    if (!parts.length) {
      parts.push(el('div', 'empty', el('p', null, 'Nothing in this export knows ', el('code', 'tag', q.trim()), '.'),
        el('p', 'muted', 'Tags are case-sensitive (ShAp is not shap). Scan the drivers of the affected host (pooltag scan), merge the report and export again; in WinDbg, !poolfind TAG finds the allocations.')));
    }
    show(parts);
  }

  function renderHome() {
    count.textContent = '';
    var m = first.meta;
    var scanned = first.scanned;
    // the drivers' tags come with the rest of the data: the list joins when it is there
    var top = !DRIVERS ? [] : DRIVERS.map(function (_, i) { return i; }).filter(function (d) { return DRIVERS[d].t.length; })
      .sort(function (a, b) { return DRIVERS[b].t.length - DRIVERS[a].t.length || (DRIVERS[a].n < DRIVERS[b].n ? -1 : 1); });
    show([
      el('section', 'intro',
        el('h1', null, 'Which driver owns this pool tag?'),
        el('p', null, 'Type a tag (', el('code', 'tag', 'FxAp'), ', ', el('code', 'tag', '0x70417846'), '), a driver, a vendor, a PDB name or a string. ',
          'Tags are case-sensitive. ', el('kbd', null, '/'), ' search, ', el('kbd', null, '↑'), el('kbd', null, '↓'), ' move, ', el('kbd', null, 'Enter'), ' open, ', el('kbd', null, 'Esc'), ' clear.'),
        el('dl', 'stats',
          el('dt', null, 'Tags'), el('dd', null, TAGS.length.toLocaleString('en-US') + ' (' + scanned.toLocaleString('en-US') + ' found at call sites in scanned drivers)'),
          el('dt', null, 'Drivers'), el('dd', null, first.dn.length.toLocaleString('en-US') + ' file names, from ' + m.hosts + ' host' + (m.hosts === 1 ? '' : 's')),
          el('dt', null, 'pooltag.txt'), el('dd', null, m.sources.length ? m.sources.map(function (s) { return s.name + ' (' + s.entries + ' entries)'; }).join('; ') : 'none imported'),
          el('dt', null, 'Made'), el('dd', null, m.tool + ', ' + m.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')))),
      top.length ? section('Drivers with the most tags', top.length, table('grid', ['Driver', 'Version', 'Vendor', 'Product', 'Tags'], driverRows(top))) : null,
    ]);
  }

  function renderTag(i) {
    if (needFull()) return;
    var t = TAGS[i];
    count.textContent = '';
    var rows = t.o.map(function (o, k) {
      var vendor = ownerVendor(o);
      var product = o.s !== 'p' ? (o.d >= 0 ? productsOf(o.d).join(', ') : '') : (o.ds.length ? productsOf(o.ds[0]).join(', ') : '');
      var version = o.s !== 'p' ? (o.v || []).join(', ') : '';
      var desc = o.s === 'p' ? [clip(o.desc, 200), o.w ? el('div', 'muted small', clip(o.w, 100)) : null] : (o.d >= 0 ? clip(DRIVERS[o.d].b[0].desc || '', 120) : '');
      return el('tr', null, el('td', 'num', String(k + 1)), el('td', null, badge(SOURCE[o.s][1], SOURCE[o.s][0])), el('td', null, conf(o.c)),
        el('td', 'nowrap', ownerCell(o)), el('td', null, clip(vendor, 80)), el('td', null, clip(product, 80)), el('td', 'mono nowrap', clip(version, 60)),
        el('td', null, clip(o.e, 120)), el('td', 'desc', desc));
    });
    show([
      el('nav', 'crumbs', link('#', null, 'Home'), ' › tag'),
      el('h1', 'tagtitle', tagCode(i), el('span', 'muted hex', t.h)),
      t.sh ? el('p', 'warn', el('strong', null, 'Shared tag. '), clip(t.sh, 400)) : null,
      t.n.length ? el('section', 'notes', el('h2', null, 'Notes'), el('ul', null, t.n.map(function (n) { return el('li', null, clip(n, 600)); }))) : null,
      t.o.length ? section('Owners', t.o.length, table('grid owners', ['#', 'Source', 'Confidence', 'Owner', 'Vendor', 'Product', 'Version', 'Evidence', 'Description'], rows))
        : el('p', 'muted', 'No owner is known; only the notes above.'),
    ]);
  }

  function renderDriver(d) {
    if (needFull()) return;
    var v = DRIVERS[d];
    count.textContent = '';
    var builds = v.b.map(function (b) {
      var paths = b.paths.map(function (p) { return el('div', null, clip(p, 90)); });
      if (b.more) paths.push(el('div', 'muted', '+' + b.more + ' more'));
      return el('tr', null, el('td', 'mono nowrap', clip(b.ver || '—', 40)), el('td', null, b.arch || ''), el('td', null, clip(b.company || '', 60)),
        el('td', null, clip([b.product, b.desc].filter(Boolean).join(' — '), 90)), el('td', null, b.signer ? clip(b.signer, 60) : el('span', 'muted', 'unsigned')), el('td', 'num', String(b.hosts)),
        el('td', 'mono small wrap', el('span', 'sha', b.sha.slice(0, 16) + '…'), b.pdb ? el('div', 'muted', clip(b.pdb, 80)) : null), el('td', 'small wrap', paths));
    });
    builds.forEach(function (tr, k) { tr.querySelector('.sha').title = v.b[k].sha; });
    var tagRowsList = v.t.map(function (x) {
      var t = TAGS[x[0]], o = t.o[x[1]];
      return el('tr', null, el('td', 'tagcell', link(tagHref(x[0]), 'taglink', tagCode(x[0])), t.sh ? badge('shared', 'shared') : null),
        el('td', null, badge(SOURCE[o.s][1], SOURCE[o.s][0])), el('td', null, conf(o.c)), el('td', null, clip(o.e, 140)),
        el('td', 'muted small', t.o.length > 1 ? (t.o.length - 1) + ' other owner' + (t.o.length === 2 ? '' : 's') : ''));
    });
    show([
      el('nav', 'crumbs', link('#', null, 'Home'), ' › driver'),
      el('h1', 'drvtitle', clip(v.n, 120), el('span', 'muted', ' ', clip(vendorsOf(d).slice(0, 2).join(', '), 90))),
      section('Builds', v.b.length, table('grid', ['Version', 'Arch', 'Company', 'Product', 'Signer', 'Hosts', 'SHA-256 / PDB', 'Seen at'], builds)),
      v.t.length ? section('Tags', v.t.length, table('grid', ['Tag', 'Source', 'Confidence', 'Evidence', ''], tagRowsList)) : el('p', 'muted', 'No tag found in this driver.'),
    ]);
  }

  function show(parts) {
    main.textContent = '';
    add(main, parts);
    selected = -1;
  }

  // --- routing and keys ----------------------------------------------------------------------
  function route() {
    var h = location.hash.slice(1), slash = h.indexOf('/');
    var kind = slash < 0 ? h : h.slice(0, slash);
    var arg = '';
    try { arg = slash < 0 ? '' : decodeURIComponent(h.slice(slash + 1)); } catch (e) { arg = ''; }
    if (kind === 'tag' && byTag.has(arg)) return renderTag(byTag.get(arg));
    if (kind === 'driver' && byDriver.has(arg)) return renderDriver(byDriver.get(arg));
    if (kind === 'search' && arg) {
      if (input.value !== arg) input.value = arg;
      return renderSearch(arg);
    }
    input.value = '';
    renderHome();
  }

  // The first keystroke after a pause is answered at once; keystrokes that follow it closely
  // wait for typing to pause 60 ms (the last one is always answered).
  var timer = 0, lastRender = 0;
  function update() {
    lastRender = Date.now();
    var q = input.value;
    history.replaceState(null, '', q.trim() ? '#search/' + encodeURIComponent(q) : '#');
    if (q.trim()) renderSearch(q); else renderHome();
  }
  input.addEventListener('input', function () {
    scheduleFull(600);
    scheduleIndex(900);
    clearTimeout(timer);
    if (Date.now() - lastRender > 150) update();
    else timer = setTimeout(update, 60);
  });

  var selected = -1;
  function rows() { return main.querySelectorAll('tr.row'); }
  function select(k) {
    var r = rows();
    if (!r.length) return;
    if (selected >= 0 && r[selected]) r[selected].classList.remove('sel');
    selected = Math.max(0, Math.min(r.length - 1, k));
    r[selected].classList.add('sel');
    r[selected].scrollIntoView({ block: 'nearest' });
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === '/' && document.activeElement !== input) { e.preventDefault(); input.focus(); input.select(); return; }
    if (e.key === 'Escape') {
      input.value = '';
      if (location.hash && location.hash !== '#') location.hash = ''; else route();
      input.focus();
      return;
    }
    if (e.key === 'ArrowDown') { e.preventDefault(); select(selected + 1); return; }
    if (e.key === 'ArrowUp') { e.preventDefault(); select(selected - 1); return; }
    if (e.key === 'Enter' && (selected >= 0 || document.activeElement === input)) {
      var r = rows()[selected >= 0 ? selected : 0];
      if (r && r.dataset.href) { e.preventDefault(); clearTimeout(timer); location.hash = r.dataset.href; }
    }
  });
  main.addEventListener('click', function (e) {
    // a link or a row followed while a search waits for typing to pause: the search is dropped
    // (its timer would run before the hashchange and write its own address over the link's)
    if (e.target.closest && e.target.closest('a, tr.row')) clearTimeout(timer);
    var tr = e.target.closest && e.target.closest('tr.row');
    if (tr && tr.dataset.href && !e.target.closest('a')) location.hash = tr.dataset.href;
  });
  window.addEventListener('hashchange', function () { clearTimeout(timer); route(); window.scrollTo(0, 0); });

  var m = first.meta;
  document.getElementById('foot').textContent = vis(m.tool + ' · exported ' + m.generatedAt + (m.db ? ' from ' + m.db : '') + ' · offline page: nothing is loaded from the network');
  route();
  input.focus();
  document.documentElement.dataset.ready = '1';
  // the rest once the browser has read it and typing pauses (its unpacking holds the page a while)
  whenParsed(function () { scheduleFull(1000); scheduleIndex(1500); });
  }
})();
