// Raw DEFLATE (RFC 1951) decoded synchronously: the export page's first part is read with it
// while the browser's parser waits, so that the page answers before it has read the rest of
// itself (DecompressionStream is asynchronous: the parser would read the whole page first).
// Inlined before page.js; it defines one function, inflateRaw(Uint8Array) -> Uint8Array.
function inflateRaw(src) {
  'use strict';
  var LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  var LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  var DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  var DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
  var ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  var out = new Uint8Array(Math.max(1024, src.length * 4)), op = 0;
  var pos = 0, buf = 0, cnt = 0;
  function fill(n) {
    // past the end, zeros (a code may be peeked beyond the last byte; reading them is an error below)
    while (cnt < n) {
      if (pos >= src.length + 4) throw new Error('bad data: truncated');
      buf |= (pos < src.length ? src[pos] : 0) << cnt; pos++; cnt += 8;
    }
  }
  function bits(n) {
    if (n === 0) return 0;
    fill(n);
    var v = buf & ((1 << n) - 1);
    buf >>>= n; cnt -= n;
    return v;
  }
  function room(n) {
    if (op + n <= out.length) return;
    var o = new Uint8Array(Math.max(out.length * 2, op + n));
    o.set(out.subarray(0, op));
    out = o;
  }
  /** A decoding table: entry (symbol << 4 | length) at every index whose low bits are the reversed code. */
  function table(lengths) {
    var max = 0, i, count = new Uint16Array(16), next = new Uint16Array(16);
    for (i = 0; i < lengths.length; i++) { count[lengths[i]]++; if (lengths[i] > max) max = lengths[i]; }
    if (max === 0) return { bits: 1, t: new Int32Array(2).fill(-1) };
    count[0] = 0;
    var code = 0;
    for (i = 1; i < 16; i++) { code = (code + count[i - 1]) << 1; next[i] = code; }
    var t = new Int32Array(1 << max).fill(-1);
    for (var s = 0; s < lengths.length; s++) {
      var len = lengths[s];
      if (!len) continue;
      var c = next[len]++, r = 0;
      for (i = 0; i < len; i++) { r = (r << 1) | (c & 1); c >>= 1; }
      for (i = r; i < t.length; i += 1 << len) t[i] = (s << 4) | len;
    }
    return { bits: max, t: t };
  }
  function sym(h) {
    fill(h.bits);
    var e = h.t[buf & ((1 << h.bits) - 1)];
    if (e < 0) throw new Error('bad data: no such code');
    buf >>>= e & 15; cnt -= e & 15;
    return e >> 4;
  }
  var fixedLit = null, fixedDist = null;
  for (;;) {
    var last = bits(1), type = bits(2);
    if (type === 0) {
      // to a byte boundary: whole bytes still in the buffer were read ahead, the rest of one is dropped
      pos -= cnt >> 3; buf = 0; cnt = 0;
      var len = src[pos] | (src[pos + 1] << 8);
      if (pos + 4 + len > src.length) throw new Error('bad data: stored block past the end');
      room(len);
      out.set(src.subarray(pos + 4, pos + 4 + len), op);
      op += len; pos += 4 + len;
    } else {
      var lit, dist;
      if (type === 1) {
        if (!fixedLit) {
          var l = new Uint8Array(288), d = new Uint8Array(30).fill(5);
          l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
          fixedLit = table(l); fixedDist = table(d);
        }
        lit = fixedLit; dist = fixedDist;
      } else if (type === 2) {
        var hlit = bits(5) + 257, hdist = bits(5) + 1, hclen = bits(4) + 4, cl = new Uint8Array(19), i;
        for (i = 0; i < hclen; i++) cl[ORDER[i]] = bits(3);
        var ch = table(cl), lens = new Uint8Array(hlit + hdist);
        for (i = 0; i < hlit + hdist;) {
          var x = sym(ch);
          if (x < 16) lens[i++] = x;
          else {
            var rep = x === 16 ? 3 + bits(2) : x === 17 ? 3 + bits(3) : 11 + bits(7), v = 0;
            if (x === 16) { if (!i) throw new Error('bad data: repeat of nothing'); v = lens[i - 1]; }
            if (i + rep > lens.length) throw new Error('bad data: too many lengths');
            while (rep--) lens[i++] = v;
          }
        }
        lit = table(lens.subarray(0, hlit)); dist = table(lens.subarray(hlit));
      } else throw new Error('bad data: block type 3');
      for (;;) {
        var s = sym(lit);
        if (s < 256) { room(1); out[op++] = s; }
        else if (s === 256) break;
        else {
          s -= 257;
          if (s >= 29) throw new Error('bad data: length code');
          var n = LBASE[s] + bits(LEXT[s]);
          var ds = sym(dist);
          if (ds >= 30) throw new Error('bad data: distance code');
          var back = DBASE[ds] + bits(DEXT[ds]);
          if (back > op) throw new Error('bad data: distance too far');
          room(n);
          for (var k = 0; k < n; k++, op++) out[op] = out[op - back];
        }
      }
    }
    if (last) break;
  }
  return out.subarray(0, op);
}
