// The in-browser verifier of a giveaway draw (seed 003): the steps of
// `creatorhub/giveaways/proof/verify.py`, re-computed here from the certificate's bytes with
// the browser's own cryptography (WebCrypto: Ed25519, SHA-256, HMAC-SHA-256) and nothing
// asked of the server. The specifications it follows are the docstrings of the proof's
// modules: canonical.py (canonical JSON, the ENTRIES file), merkle.py, drbg.py, rules.py,
// draw.py, certificate.py, beacon.py.
//
// Steps, as verify.py names them: parse, signature, commitment_hash, seed, beacon,
// config_hash, entries, exclusions, selection, rerolls. Each passes, fails or is skipped with
// a message; the certificate verifies when none failed. With no ENTRIES file, `entries` and
// `exclusions` are skipped and `selection` replays the draw on the certificate's word for
// which entries are the same user's (as verify.py does).
//
// Canonical JSON here gives the bytes of Python's `canonical_json`:
// * keys sorted by code point (JavaScript's default sort compares UTF-16 units, which orders
//   characters above U+FFFF before U+E000..U+FFFF: the comparison here is by code point);
// * strings as `JSON.stringify` writes them, which escapes exactly what
//   `json.dumps(ensure_ascii=False)` escapes: `"`, `\`, and U+0000..U+001F (`\b \f \n \r \t`,
//   the others as lowercase `\u00xx`); U+2028 and U+2029 are written as they are by both;
// * a lone surrogate (U+D800..U+DFFF not in a pair) is refused: Python cannot encode it as
//   UTF-8 and refuses the document, where `JSON.stringify` would write it as `\udxxx`;
// * numbers: integers within +-(2^53 - 1) only (Python refuses floats; `JSON.parse` reads
//   `1.0` as 1, which is then not the canonical spelling of the bytes and fails the same).
// Rules whose evaluation depends on Unicode tables (lowercase mapping, NFC, the letter and
// digit categories, whitespace for trimming keywords) use the browser's; they can disagree
// with Python's only for characters one of the two Unicode versions does not know.
"use strict";
(() => {
  const encoder = new TextEncoder();
  const STEPS = [
    "parse",
    "signature",
    "commitment_hash",
    "seed",
    "beacon",
    "config_hash",
    "entries",
    "exclusions",
    "selection",
    "rerolls",
  ];
  const PLATFORMS = ["instagram", "facebook", "tiktok", "twitter", "file"];
  const REASONS = [
    "blacklisted",
    "outside_window",
    "reply",
    "missing_keyword",
    "too_few_mentions",
    "followers_unknown",
    "below_min_followers",
    "business_account",
    "suspicious",
    "duplicate_user",
  ];
  const FIELDS = [
    "comment_id",
    "created_at",
    "followers",
    "is_business",
    "is_verified",
    "likes",
    "mentions",
    "parent_id",
    "platform",
    "platform_user_id",
    "text",
    "username",
  ];
  const DOMAIN = encoder.encode("creatorhub-draw-v1");
  const TWO_64 = 1n << 64n;
  const TIMESTAMP =
    /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$/;
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  // rules.py: MENTION, SUSPICIOUS_USERNAME; canonical.py: what a username cannot contain.
  const MENTION = /(?<![A-Za-z0-9_.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)/g;
  const SUSPICIOUS_USERNAME = /^[a-z]+[._]?[0-9]{6,}$/;
  const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
  // Python's whitespace (`str.isspace`, its regex `\s`): JavaScript's `\s` and `trim` also
  // take U+FEFF and leave U+001C..U+001F and U+0085, so the set is written out.
  const SPACE = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const BAD_USERNAME_CHAR = new RegExp(`[${SPACE}@\\x00-\\x1f\\x7f]`, "u");
  const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "gu");
  const pyStrip = (text) => text.replace(STRIP, "");
  // beacon.py's KNOWN_CHAINS: drand's quicknet.
  const KNOWN_CHAINS = {
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971": {
      genesis: 1692803367,
      period: 3,
    },
  };

  class Fail extends Error {}
  class Skip extends Error {}
  const expect = (condition, message) => {
    if (!condition) throw new Fail(message);
  };

  // --- bytes ---------------------------------------------------------------------------------

  const HEX = /^(?:[0-9a-f]{2})*$/;
  function fromHex(text) {
    if (typeof text !== "string" || !HEX.test(text)) throw new Fail("not lowercase hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }
  function toHex(bytes) {
    let text = "";
    for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
    return text;
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // SHA-256 of a whole file and HMAC-SHA-256, by WebCrypto.
  async function digest(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  async function hmac(key, message) {
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, message));
  }

  // SHA-256 of short messages (a Merkle tree's leaves and nodes: millions of them), in this
  // thread: one WebCrypto call each would cost more in its promise than in its hashing. The
  // tree's root, compared with the commitment's (which WebCrypto's SHA-256 of the same lines
  // gave on the server side), checks this function on every verification.
  const K = Int32Array.from([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const W = new Int32Array(64);
  const H = new Int32Array(8);
  const IV = Int32Array.from([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  let pad = new Uint8Array(256);
  function sha256(message) {
    const length = message.length;
    const size = Math.ceil((length + 9) / 64) * 64;
    if (pad.length < size) pad = new Uint8Array(size * 2);
    const block = pad;
    block.set(message);
    block.fill(0, length, size);
    block[length] = 0x80;
    const high = Math.floor(length / 0x20000000); // the length in bits, as two 32-bit words
    const low = (length * 8) >>> 0;
    block[size - 8] = high >>> 24;
    block[size - 7] = high >>> 16;
    block[size - 6] = high >>> 8;
    block[size - 5] = high;
    block[size - 4] = low >>> 24;
    block[size - 3] = low >>> 16;
    block[size - 2] = low >>> 8;
    block[size - 1] = low;
    H.set(IV);
    for (let offset = 0; offset < size; offset += 64) {
      for (let t = 0; t < 16; t++) {
        const i = offset + 4 * t;
        W[t] = (block[i] << 24) | (block[i + 1] << 16) | (block[i + 2] << 8) | block[i + 3];
      }
      for (let t = 16; t < 64; t++) {
        const a = W[t - 15], b = W[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      H[0] += a;
      H[1] += b;
      H[2] += c;
      H[3] += d;
      H[4] += e;
      H[5] += f;
      H[6] += g;
      H[7] += h;
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[4 * i] = H[i] >>> 24;
      out[4 * i + 1] = H[i] >>> 16;
      out[4 * i + 2] = H[i] >>> 8;
      out[4 * i + 3] = H[i];
    }
    return out;
  }

  // --- canonical JSON (canonical.py) --------------------------------------------------------

  function byCodePoint(a, b) {
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const x = a.codePointAt(i);
      const y = b.codePointAt(j);
      if (x !== y) return x < y ? -1 : 1;
      i += x > 0xffff ? 2 : 1;
      j += y > 0xffff ? 2 : 1;
    }
    if (i < a.length) return 1;
    return j < b.length ? -1 : 0;
  }

  function writeCanonical(value, out) {
    if (value === null || value === true || value === false) {
      out.push(String(value));
    } else if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new Fail(`${value} is not an integer within +-(2^53 - 1)`);
      }
      out.push(String(value));
    } else if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) throw new Fail("a string holds a lone surrogate");
      out.push(JSON.stringify(value));
    } else if (Array.isArray(value)) {
      out.push("[");
      for (let i = 0; i < value.length; i++) {
        if (i) out.push(",");
        writeCanonical(value[i], out);
      }
      out.push("]");
    } else if (typeof value === "object") {
      out.push("{");
      Object.keys(value)
        .sort(byCodePoint)
        .forEach((key, i) => {
          if (LONE_SURROGATE.test(key)) throw new Fail("a key holds a lone surrogate");
          out.push(i ? "," : "", JSON.stringify(key), ":");
          writeCanonical(value[key], out);
        });
      out.push("}");
    } else {
      throw new Fail(`${typeof value} has no canonical JSON form`);
    }
  }

  function canonicalJson(value) {
    const out = [];
    writeCanonical(value, out);
    return out.join("");
  }
  const canonicalBytes = (value) => encoder.encode(canonicalJson(value));

  // --- the certificate's shape (schema.py) --------------------------------------------------

  const COUNT = { count: true };
  const STR = { type: "string" };
  const BOOL = { type: "boolean" };
  const ANY_OBJECT = { anyObject: true };
  const hex = (size) => ({ hex: size });
  const nullable = (inner) => ({ nullable: inner });
  const listOf = (inner) => ({ list: inner });
  const pair = (first, second) => ({ pair: [first, second] });
  const fields = (spec) => ({ fields: spec });
  const HASH = hex(32);
  const PICK = fields({
    rank: COUNT,
    index: COUNT,
    platform: STR,
    username: STR,
    platform_user_id: STR,
    comment_id: STR,
  });
  const CERTIFICATE = fields({
    version: COUNT,
    commitment: fields({
      version: COUNT,
      draw_id: STR,
      platform: STR,
      post_ref: STR,
      host_username: STR,
      entries_count: COUNT,
      entries_root: HASH,
      entries_sha256: HASH,
      config_sha256: HASH,
      seed_sha256: HASH,
      beacon: nullable(fields({ kind: STR, chain_hash: hex(null), round: COUNT, url: STR })),
      committed_at: STR,
    }),
    commitment_hash: HASH,
    reveal: fields({ seed: HASH }),
    beacon: nullable(
      fields({
        kind: STR,
        chain_hash: hex(null),
        round: COUNT,
        url: STR,
        randomness: HASH,
        signature: hex(null),
        signature_checked: BOOL,
      }),
    ),
    config: ANY_OBJECT,
    blacklist: listOf(ANY_OBJECT),
    attestations: listOf(fields({ rule: STR, status: STR })),
    counts: fields({ entries: COUNT, eligible: COUNT, excluded: ANY_OBJECT }),
    excluded: listOf(pair(COUNT, STR)),
    skipped: listOf(pair(COUNT, COUNT)),
    winners: listOf(PICK),
    alternates: listOf(PICK),
    rerolls: listOf(
      fields({ rank: COUNT, replaced_index: COUNT, alternate_index: COUNT, reason: STR, at: STR }),
    ),
    issued_at: STR,
    signature: fields({ alg: STR, key_id: STR, public_key: hex(32), value: hex(64) }),
  });

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

  function checkShape(value, spec, path) {
    if (spec.anyObject) {
      expect(isObject(value), `${path} must be an object`);
    } else if (spec.nullable) {
      if (value !== null) checkShape(value, spec.nullable, path);
    } else if (spec.fields) {
      expect(isObject(value), `${path} must be an object`);
      const wanted = Object.keys(spec.fields);
      const missing = wanted.filter((k) => !Object.hasOwn(value, k));
      const extra = Object.keys(value).filter((k) => !Object.hasOwn(spec.fields, k));
      expect(!missing.length && !extra.length, `${path}: missing [${missing}], unknown [${extra}]`);
      for (const key of wanted) checkShape(value[key], spec.fields[key], `${path}.${key}`);
    } else if (spec.list) {
      expect(Array.isArray(value), `${path} must be a list`);
      value.forEach((item, i) => checkShape(item, spec.list, `${path}[${i}]`));
    } else if (spec.pair) {
      expect(Array.isArray(value) && value.length === 2, `${path} must be a pair`);
      checkShape(value[0], spec.pair[0], `${path}[0]`);
      checkShape(value[1], spec.pair[1], `${path}[1]`);
    } else if (spec.hex !== undefined) {
      const ok = typeof value === "string" && HEX.test(value);
      expect(ok, `${path} must be lowercase hex`);
      expect(spec.hex === null || value.length === 2 * spec.hex, `${path} must be ${spec.hex} bytes of hex`);
    } else if (spec.count) {
      expect(Number.isInteger(value) && value >= 0, `${path} must be an integer >= 0`);
    } else {
      expect(typeof value === spec.type, `${path} must be a ${spec.type === "string" ? "str" : "bool"}`);
    }
  }

  // --- config and blacklist (rules.py) ------------------------------------------------------

  const isCount = (value, minimum) => Number.isSafeInteger(value) && value >= minimum;
  function exactKeys(object, keys, name) {
    expect(isObject(object), `${name} must be an object`);
    const got = Object.keys(object).sort(byCodePoint).join(",");
    expect(got === [...keys].sort(byCodePoint).join(","), `${name}: not the canonical settings`);
  }
  function isUsername(name) {
    return (
      typeof name === "string" &&
      name.length > 0 &&
      name === name.normalize("NFC") &&
      name === name.toLowerCase() &&
      !BAD_USERNAME_CHAR.test(name)
    );
  }

  // The config as `DrawConfig.canonical()` writes it, or a failure naming what is not.
  function checkConfig(config) {
    exactKeys(
      config,
      ["rules_version", "winners_count", "alternates_count", "entries_per_user", "filters", "rules"],
      "config",
    );
    expect(config.rules_version === 1, "rules_version: only version 1 exists");
    expect(isCount(config.winners_count, 1), "winners_count: must be at least 1");
    expect(isCount(config.alternates_count, 0), "alternates_count: must be at least 0");
    expect(["one", "per_comment"].includes(config.entries_per_user), "entries_per_user");
    const f = config.filters;
    exactKeys(f, ["min_followers", "exclude_suspicious", "exclude_businesses"], "filters");
    expect(f.min_followers === null || isCount(f.min_followers, 0), "filters.min_followers");
    expect(typeof f.exclude_suspicious === "boolean", "filters.exclude_suspicious");
    expect(typeof f.exclude_businesses === "boolean", "filters.exclude_businesses");
    const r = config.rules;
    exactKeys(
      r,
      [
        "require_like",
        "require_comment",
        "require_follow",
        "comment_keywords",
        "min_mentions",
        "window_start",
        "window_end",
        "exclude_replies",
      ],
      "rules",
    );
    for (const flag of ["require_like", "require_comment", "require_follow", "exclude_replies"]) {
      expect(typeof r[flag] === "boolean", `rules.${flag}: must be true or false`);
    }
    expect(isCount(r.min_mentions, 0), "rules.min_mentions: must be at least 0");
    const keywords = r.comment_keywords;
    expect(Array.isArray(keywords), "rules.comment_keywords: must be a list of strings");
    keywords.forEach((k, i) => {
      expect(typeof k === "string" && k !== "", "rules.comment_keywords: a keyword is empty");
      expect(k === pyStrip(k).toLowerCase().normalize("NFC"), "the config is not in canonical form");
      expect(i === 0 || byCodePoint(keywords[i - 1], k) < 0, "the config is not in canonical form");
    });
    for (const name of ["window_start", "window_end"]) {
      const moment = r[name];
      expect(moment === null || isMoment(moment), `rules.${name}: not a canonical UTC time`);
    }
    if (r.window_start !== null && r.window_end !== null) {
      expect(r.window_start < r.window_end, "rules.window_end: must be after window_start");
    }
    return config;
  }

  // A canonical timestamp of a real moment (rules.py reads the config's with fromisoformat).
  function isMoment(text) {
    if (typeof text !== "string" || !TIMESTAMP.test(text) || text.startsWith("0000")) return false;
    const parsed = new Date(text);
    return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === text.replace("Z", ".000Z");
  }

  function checkBlacklist(blacklist) {
    blacklist.forEach((item, i) => {
      exactKeys(item, ["platform", "username"], `blacklist[${i}]`);
      expect(item.platform === "all" || PLATFORMS.includes(item.platform), `blacklist[${i}].platform`);
      expect(isUsername(item.username), `blacklist[${i}].username: not a normalized username`);
      if (i) {
        const before = blacklist[i - 1];
        const order =
          byCodePoint(before.platform, item.platform) ||
          byCodePoint(before.username, item.username);
        expect(order < 0, "blacklist not canonical");
      }
    });
    return blacklist;
  }

  function attestationsOf(config) {
    const stated = [];
    if (config.rules.require_comment) stated.push({ rule: "require_comment", status: "verified_by_entry" });
    for (const rule of ["require_like", "require_follow"]) {
      if (config.rules[rule]) stated.push({ rule, status: "self_declared_checked_by_host" });
    }
    return stated;
  }

  // --- the ENTRIES file (canonical.py, table.py) and its Merkle tree (merkle.py) -------------

  const LEAF = Uint8Array.of(0);
  const NODE = Uint8Array.of(1);
  const leafHash = (line) => sha256(concat(LEAF, line));
  const nodeHash = (left, right) => sha256(concat(NODE, left, right));

  function merkleRoot(lines) {
    if (!lines.length) return sha256(new Uint8Array(0));
    let level = lines.map(leafHash);
    while (level.length > 1) {
      const up = [];
      for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i], level[i + 1]));
      if (level.length % 2) up.push(level[level.length - 1]);
      level = up;
    }
    return level[0];
  }

  // merkle.py's verify_proof: `line` (bytes) is leaf `index` of `count` leaves under `root`.
  function verifyProof(line, index, count, proof, root) {
    if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) {
      return false;
    }
    let node = leafHash(line);
    let position = index;
    let width = count;
    let used = 0;
    try {
      while (width > 1) {
        if (position % 2 || position + 1 < width) {
          if (used === proof.length) return false;
          const step = proof[used++];
          const side = position % 2 ? "L" : "R";
          if (!Array.isArray(step) || step.length !== 2 || step[0] !== side) return false;
          const sibling = fromHex(step[1]);
          if (sibling.length !== 32) return false;
          node = side === "L" ? nodeHash(sibling, node) : nodeHash(node, sibling);
        }
        position = Math.floor(position / 2);
        width = Math.floor((width + 1) / 2);
      }
      return used === proof.length && toHex(node) === String(root).toLowerCase();
    } catch {
      return false;
    }
  }

  function checkEntry(entry, number) {
    const where = `line ${number}`;
    expect(isObject(entry), `${where}: each line must be one JSON object`);
    const keys = Object.keys(entry);
    expect(keys.length === FIELDS.length && FIELDS.every((k) => Object.hasOwn(entry, k)), `${where}: not an entry's fields`);
    for (const name of ["comment_id", "platform_user_id"]) {
      expect(typeof entry[name] === "string" && entry[name] !== "", `${where}: ${name} must be a non-empty string`);
    }
    expect(entry.parent_id === null || (typeof entry.parent_id === "string" && entry.parent_id !== ""), `${where}: parent_id`);
    expect(PLATFORMS.includes(entry.platform), `${where}: platform`);
    expect(typeof entry.created_at === "string" && TIMESTAMP.test(entry.created_at), `${where}: created_at`);
    expect(isCount(entry.likes, 0), `${where}: likes`);
    expect(entry.followers === null || isCount(entry.followers, 0), `${where}: followers`);
    for (const name of ["is_business", "is_verified"]) {
      expect(entry[name] === null || typeof entry[name] === "boolean", `${where}: ${name}`);
    }
    expect(typeof entry.text === "string" && entry.text === entry.text.normalize("NFC"), `${where}: text must be NFC`);
    expect(isUsername(entry.username), `${where}: username must be normalized`);
    expect(Array.isArray(entry.mentions) && entry.mentions.every(isUsername), `${where}: mentions`);
    entry.mentions.forEach((m, i) => {
      expect(i === 0 || byCodePoint(entry.mentions[i - 1], m) < 0, `${where}: mentions must be sorted, each once`);
    });
  }

  // The table of an ENTRIES file: its lines (bytes, without "\n") and their entries; a
  // failure names the first thing wrong.
  function parseEntries(data) {
    const lines = [];
    const entries = [];
    if (!data.length) return { lines, entries };
    expect(data[data.length - 1] === 0x0a, "the file must end with a newline");
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let start = 0;
    while (start < data.length) {
      const end = data.indexOf(0x0a, start);
      const line = data.subarray(start, end);
      const number = lines.length + 1;
      expect(line.length > 0, `line ${number} is empty`);
      let text;
      let entry;
      try {
        text = decoder.decode(line);
        entry = JSON.parse(text);
      } catch (error) {
        throw new Fail(`line ${number}: not JSON: ${error.message}`);
      }
      checkEntry(entry, number);
      expect(canonicalJson(entry) === text, `line ${number} is not in canonical form`);
      if (entries.length) {
        const before = entries[entries.length - 1];
        const order =
          byCodePoint(before.platform, entry.platform) ||
          byCodePoint(before.comment_id, entry.comment_id);
        expect(
          order < 0,
          `entry ${number - 1} (${before.platform}/${before.comment_id}) is out of order or` +
            " repeated: entries are sorted by (platform, comment_id), each once",
        );
      }
      lines.push(line);
      entries.push(entry);
      start = end + 1;
    }
    return { lines, entries };
  }

  const userOf = (entry) => `${entry.platform}\u0000${entry.platform_user_id}`;

  // rules.py's `evaluate`: each excluded entry with the first reason that applies.
  function evaluate(entries, config, blacklist) {
    const banned = new Set();
    for (const b of blacklist) {
      for (const p of b.platform === "all" ? PLATFORMS : [b.platform]) banned.add(`${p}\u0000${b.username}`);
    }
    const f = config.filters;
    const r = config.rules;
    const reasons = new Map();
    entries.forEach((e, i) => {
      const words = () => LETTER_OR_DIGIT.test(e.text.replace(MENTION, ""));
      let reason = null;
      if (banned.has(`${e.platform}\u0000${e.username}`)) reason = "blacklisted";
      else if (
        (r.window_start !== null && e.created_at < r.window_start) ||
        (r.window_end !== null && e.created_at >= r.window_end)
      ) {
        reason = "outside_window";
      } else if (r.exclude_replies && e.parent_id !== null) reason = "reply";
      else if (r.comment_keywords.length && !r.comment_keywords.some((k) => e.text.toLowerCase().includes(k))) {
        reason = "missing_keyword";
      } else if (r.min_mentions && r.min_mentions > e.mentions.length - (e.mentions.includes(e.username) ? 1 : 0)) {
        reason = "too_few_mentions";
      } else if (f.min_followers !== null && e.followers === null) reason = "followers_unknown";
      else if (f.min_followers !== null && e.followers < f.min_followers) reason = "below_min_followers";
      else if (f.exclude_businesses && e.is_business === true) reason = "business_account";
      else if (
        f.exclude_suspicious &&
        e.is_verified !== true &&
        (SUSPICIOUS_USERNAME.test(e.username) || (e.followers === 0 && !words()))
      ) {
        reason = "suspicious";
      }
      if (reason !== null) reasons.set(i, reason);
    });
    if (config.entries_per_user === "one") {
      const byUser = new Map();
      entries.forEach((e, i) => {
        if (reasons.has(i)) return;
        const user = userOf(e);
        if (!byUser.has(user)) byUser.set(user, []);
        byUser.get(user).push(i);
      });
      for (const indices of byUser.values()) {
        if (indices.length < 2) continue;
        indices.sort(
          (a, b) =>
            byCodePoint(entries[a].created_at, entries[b].created_at) ||
            byCodePoint(entries[a].comment_id, entries[b].comment_id),
        );
        for (const later of indices.slice(1)) reasons.set(later, "duplicate_user");
      }
    }
    return [...reasons.entries()].sort((a, b) => a[0] - b[0]);
  }

  // --- the draw's random numbers (drbg.py) ---------------------------------------------------

  async function drawRandomness(seed, commitmentHash, beacon) {
    expect(seed.length === 32 && commitmentHash.length === 32, "the seed and the commitment hash are 32 bytes each");
    expect(beacon === null || beacon.length === 32, "a beacon's randomness is 32 bytes");
    return hmac(seed, concat(DOMAIN, commitmentHash, beacon || new Uint8Array(0)));
  }

  class Drbg {
    constructor(randomness) {
      this.keyPromise = crypto.subtle.importKey(
        "raw",
        randomness,
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      this.blocks = []; // computed ahead: block i is HMAC(randomness, i as 8 bytes big-endian)
      this.next = 0; // the next block to read
      this.offset = 32;
      this.block = null;
      this.batch = 8;
    }

    async nextU64() {
      if (this.offset === 32) {
        if (this.next === this.blocks.length) await this.more();
        this.block = new DataView(this.blocks[this.next].buffer);
        this.blocks[this.next] = null;
        this.next += 1;
        this.offset = 0;
      }
      const value = this.block.getBigUint64(this.offset);
      this.offset += 8;
      return value;
    }

    async more() {
      const key = await this.keyPromise;
      const first = this.blocks.length;
      const made = await Promise.all(
        Array.from({ length: this.batch }, (_, i) => {
          const counter = new Uint8Array(8);
          new DataView(counter.buffer).setBigUint64(0, BigInt(first + i));
          return crypto.subtle.sign("HMAC", key, counter);
        }),
      );
      for (const block of made) this.blocks.push(new Uint8Array(block));
      this.batch = Math.min(this.batch * 2, 1024);
    }

    async uniform(n) {
      const size = BigInt(n);
      expect(size >= 1n && size <= TWO_64, `uniform(${n}): n must be in [1, 2**64]`);
      const limit = TWO_64 - (TWO_64 % size);
      for (;;) {
        const value = await this.nextU64();
        if (value < limit) return Number(value % size);
      }
    }
  }

  // Step 4 of drbg.py: the positions in draw order, lazily.
  async function* shuffled(positions, randomness) {
    const order = Int32Array.from(positions);
    const stream = new Drbg(randomness);
    for (let i = 0; i < order.length; i++) {
      const j = i + (await stream.uniform(order.length - i));
      const held = order[i];
      order[i] = order[j];
      order[j] = held;
      yield order[i];
    }
  }

  // draw.py's `select`: the first `wanted` distinct users in draw order, and the skips.
  async function select(eligible, randomness, wanted, userAt) {
    const picks = [];
    const skipped = [];
    const drawn = new Map();
    if (wanted <= 0) return { picks, skipped };
    for await (const position of shuffled(eligible, randomness)) {
      const user = userAt(position);
      if (drawn.has(user)) {
        skipped.push([position, drawn.get(user)]);
        continue;
      }
      drawn.set(user, position);
      picks.push(position);
      if (picks.length === wanted) break;
    }
    return { picks, skipped };
  }

  // verify.py's `_replay_claims`: without ENTRIES, the draw order must interleave exactly the
  // picks and skips claimed, each skip repeating a user already picked.
  async function replayClaims(eligible, randomness, claimed, skips, wanted) {
    let found = 0;
    let skipped = 0;
    const picked = new Set();
    const complete = claimed.length === wanted;
    for await (const position of shuffled(eligible, randomness)) {
      if (complete && found === claimed.length) break;
      if (found < claimed.length && position === claimed[found]) {
        picked.add(position);
        found += 1;
      } else if (skipped < skips.length && position === skips[skipped][0]) {
        expect(picked.has(skips[skipped][1]), `skip of ${position}: its user was not drawn`);
        skipped += 1;
      } else {
        throw new Fail(`the draw gives entry ${position} where the certificate has another`);
      }
    }
    expect(found === claimed.length, "the draw ends before all the certificate's picks");
    expect(skipped === skips.length, "the certificate has skips the draw never reaches");
  }

  // --- the steps (verify.py) ----------------------------------------------------------------

  class Verifier {
    constructor(data, entriesBytes, trustedKeys) {
      this.data = data;
      this.entriesBytes = entriesBytes;
      this.trusted = trustedKeys ? new Set(trustedKeys.map((k) => String(k).toLowerCase())) : null;
      this.cert = null;
      this.table = null;
    }

    async run() {
      const steps = [];
      for (const name of STEPS) {
        let status = "pass";
        let message;
        try {
          if (name !== "parse" && this.cert === null) throw new Skip("the certificate did not parse");
          message = await this[name]();
        } catch (error) {
          if (error instanceof Skip) status = "skipped";
          else status = "fail";
          message = error instanceof Skip || error instanceof Fail ? error.message : `${error.name}: ${error.message}`;
        }
        steps.push({ name, status, message });
      }
      return steps;
    }

    async parse() {
      let document;
      try {
        const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(this.data);
        document = JSON.parse(text);
      } catch (error) {
        throw new Fail(`not JSON: ${error.message}`);
      }
      checkShape(document, CERTIFICATE, "certificate");
      expect(sameBytes(canonicalBytes(document), this.data), "not in canonical JSON form");
      expect(document.version === 1, "unknown certificate version");
      this.cert = document;
      return `certificate of draw ${document.commitment.draw_id}`;
    }

    async signature() {
      const c = this.cert;
      const { alg, key_id: keyId, public_key: publicKey, value } = c.signature;
      expect(alg === "Ed25519", `algorithm ${JSON.stringify(alg)} is not Ed25519`);
      const header = { alg, key_id: keyId, public_key: publicKey };
      const message = canonicalBytes({ ...c, signature: header });
      let valid;
      try {
        const key = await crypto.subtle.importKey("raw", fromHex(publicKey), { name: "Ed25519" }, false, ["verify"]);
        valid = await crypto.subtle.verify({ name: "Ed25519" }, key, fromHex(value), message);
      } catch (error) {
        if (error && error.name === "NotSupportedError") {
          throw new Skip("this browser's WebCrypto has no Ed25519: the signature is not checked here");
        }
        valid = false;
      }
      expect(valid, "the signature does not match the certificate");
      const who = `key ${keyId} (${publicKey})`;
      if (this.trusted === null) return `signed by ${who}; no trusted key given: intact, issuer not checked`;
      expect(this.trusted.has(publicKey), `signed by ${who}, which is not one of the platform's keys`);
      return `signed by the platform's ${who}`;
    }

    async commitment_hash() {
      const computed = toHex(await digest(canonicalBytes(this.cert.commitment)));
      expect(computed === this.cert.commitment_hash, `the commitment hashes to ${computed}`);
      return computed;
    }

    async seed() {
      const seed = fromHex(this.cert.reveal.seed);
      const committed = this.cert.commitment.seed_sha256;
      expect(toHex(await digest(seed)) === committed, "SHA-256(seed) != seed_sha256");
      return "SHA-256 of the revealed seed is the committed seed_sha256";
    }

    async beacon() {
      const committed = this.cert.commitment.beacon;
      const revealed = this.cert.beacon;
      if (committed === null) {
        expect(revealed === null, "a beacon is revealed but none was committed");
        throw new Skip("no beacon was committed: the seed alone keys the draw");
      }
      expect(revealed !== null, `beacon round ${committed.round} is not revealed`);
      expect(committed.kind === "drand", `unknown beacon kind ${JSON.stringify(committed.kind)}`);
      for (const key of ["kind", "chain_hash", "round", "url"]) {
        expect(revealed[key] === committed[key], `beacon ${key} differs from the committed`);
      }
      const randomness = toHex(await digest(fromHex(revealed.signature)));
      expect(randomness === revealed.randomness, "the randomness is not SHA-256 of the signature");
      expect(revealed.signature_checked === false, "signature_checked must be false");
      const chain = KNOWN_CHAINS[committed.chain_hash];
      let when = "";
      if (chain) {
        expect(committed.round >= 1, "drand rounds start at 1");
        const published = chain.genesis + (committed.round - 1) * chain.period;
        const committedAt = Date.parse(this.cert.commitment.committed_at) / 1000;
        expect(published > committedAt, "the round was out before the commitment");
        when = `, published ${published - committedAt} s after the commitment`;
      }
      return `round ${committed.round}${when}; randomness = SHA-256(signature); BLS signature not checked`;
    }

    async config_hash() {
      const c = this.cert;
      const config = checkConfig(c.config);
      const blacklist = checkBlacklist(c.blacklist);
      const computed = toHex(await digest(canonicalBytes({ blacklist, config })));
      expect(
        computed === c.commitment.config_sha256,
        `config and blacklist hash to ${computed}, not the committed config_sha256`,
      );
      expect(canonicalJson(c.attestations) === canonicalJson(attestationsOf(config)), "attestations do not match");
      return `${computed} (${blacklist.length} blacklisted)`;
    }

    async entries() {
      if (this.entriesBytes === null) throw new Skip("no ENTRIES file given");
      const commitment = this.cert.commitment;
      const sha = toHex(await digest(this.entriesBytes));
      try {
        this.table = parseEntries(this.entriesBytes);
      } catch (error) {
        throw new Fail(`not a valid ENTRIES file: ${error.message}`);
      }
      const count = this.table.entries.length;
      const problems = [];
      if (count !== commitment.entries_count) problems.push(`${count} entries, ${commitment.entries_count} committed`);
      if (sha !== commitment.entries_sha256) problems.push("its SHA-256 is not the committed entries_sha256");
      if (toHex(merkleRoot(this.table.lines)) !== commitment.entries_root) {
        problems.push("its Merkle root is not the committed entries_root");
      }
      expect(!problems.length, problems.join("; "));
      return `${count} entries: count, SHA-256, order and Merkle root as committed`;
    }

    async exclusions() {
      if (this.table === null) throw new Skip("no valid ENTRIES file");
      const computed = evaluate(this.table.entries, checkConfig(this.cert.config), checkBlacklist(this.cert.blacklist));
      const claimed = this.cert.excluded;
      const key = (pairs) => pairs.map(([i, code]) => `${i}:${code}`);
      const a = key(computed);
      const b = key(claimed);
      if (a.join(",") !== b.join(",")) {
        const left = new Set(a);
        const right = new Set(b);
        const differ = [...a.filter((x) => !right.has(x)), ...b.filter((x) => !left.has(x))]
          .map((x) => Number(x.split(":")[0]))
          .sort((x, y) => x - y);
        throw new Fail(
          `${computed.length} exclusions recomputed, ${claimed.length} in the certificate;` +
            ` first difference: entry ${differ.length ? differ[0] : "(order)"}`,
        );
      }
      return `${computed.length} exclusions recomputed identically`;
    }

    async selection() {
      const c = this.cert;
      const config = checkConfig(c.config);
      const total = c.commitment.entries_count;
      const excluded = c.excluded;
      const tally = {};
      for (const [, code] of excluded) tally[code] = (tally[code] || 0) + 1;
      expect(Object.keys(tally).every((code) => REASONS.includes(code)), "unknown exclusion reason");
      for (let i = 1; i < excluded.length; i++) {
        expect(excluded[i - 1][0] < excluded[i][0], "excluded entries must be in ascending order, each once");
      }
      expect(!excluded.length || excluded[excluded.length - 1][0] < total, "excluded index range");
      const counts = c.counts;
      expect(counts.entries === total, "counts.entries is not the committed count");
      expect(counts.eligible === total - excluded.length, "counts.eligible does not add up");
      const expected = Object.fromEntries(REASONS.map((code) => [code, tally[code] || 0]));
      expect(canonicalJson(counts.excluded) === canonicalJson(expected), "counts.excluded does not match the excluded list");
      const out = new Uint8Array(total);
      for (const [index] of excluded) out[index] = 1;
      const eligible = new Int32Array(total - excluded.length);
      for (let i = 0, n = 0; i < total; i++) if (!out[i]) eligible[n++] = i;
      const randomness = await drawRandomness(
        fromHex(c.reveal.seed),
        await digest(canonicalBytes(c.commitment)),
        c.beacon === null ? null : fromHex(c.beacon.randomness),
      );
      const { winners, alternates } = c;
      expect(winners.length === config.winners_count, "not winners_count winners");
      expect(alternates.length <= config.alternates_count, "more alternates than configured");
      for (const picks of [winners, alternates]) {
        expect(picks.every((p, i) => p.rank === i + 1), "ranks");
      }
      const claimed = [...winners, ...alternates].map((p) => p.index);
      const skips = c.skipped;
      if (config.entries_per_user === "one") expect(!skips.length, "skips are impossible with one entry per user");
      const wanted = config.winners_count + config.alternates_count;
      const table = this.table;
      if (table !== null) {
        const found = await select(eligible, randomness, wanted, (i) => userOf(table.entries[i]));
        expect(canonicalJson(found.picks) === canonicalJson(claimed), "the draw gives other winners or alternates");
        expect(canonicalJson(found.skipped) === canonicalJson(skips), "the skips are not the draw's");
        for (const pick of [...winners, ...alternates]) {
          const e = table.entries[pick.index];
          const same =
            e.platform === pick.platform &&
            e.username === pick.username &&
            e.platform_user_id === pick.platform_user_id;
          expect(same, `entry ${pick.index} is not ${pick.username}`);
          expect(pick.comment_id === e.comment_id, `entry ${pick.index} comment id`);
        }
        return `${winners.length} winner(s), ${alternates.length} alternate(s) replayed with ENTRIES`;
      }
      await replayClaims(eligible, randomness, claimed, skips, wanted);
      const note = skips.length ? "; skips (same user) not checkable without ENTRIES" : "";
      return (
        `${winners.length} winner(s), ${alternates.length} alternate(s) replayed among` +
        ` ${eligible.length} eligible positions; names not checked without ENTRIES${note}`
      );
    }

    async rerolls() {
      const c = this.cert;
      const holders = new Map(c.winners.map((p) => [p.rank, p.index]));
      const alternates = c.alternates.map((p) => p.index);
      const committedAt = c.commitment.committed_at;
      c.rerolls.forEach((change, i) => {
        const number = i + 1;
        expect(holders.has(change.rank), `reroll ${number}: no winner of rank ${change.rank}`);
        expect(change.replaced_index === holders.get(change.rank), `reroll ${number}: not the holder`);
        expect(number <= alternates.length, `reroll ${number}: no alternate left`);
        expect(change.alternate_index === alternates[number - 1], `reroll ${number}: not the next unused alternate`);
        expect(change.reason.trim() !== "", `reroll ${number}: no reason`);
        expect(TIMESTAMP.test(change.at) && change.at >= committedAt, `reroll ${number}: bad time`);
        holders.set(change.rank, change.alternate_index);
      });
      return `${c.rerolls.length} reroll(s), each to the next unused alternate`;
    }
  }

  // The steps' outcomes for a certificate's bytes, with the ENTRIES file's bytes or null, and
  // the public keys (hex) trusted to sign, or null to check only that it is intact.
  function verifyCertificate(certificate, entries = null, trustedKeys = null) {
    return new Verifier(certificate, entries, trustedKeys).run();
  }

  // --- the page -----------------------------------------------------------------------------

  // The certificate embedded in the page: its JSON with each `<` written `\u003c` (the page's
  // `giveaway_view` says why); undone here, escape by escape, for its exact signed bytes.
  function embeddedText(text) {
    let out = "";
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (inString && ch === "\\") {
        if (text.startsWith("u003c", i + 1)) {
          out += "<";
          i += 5;
        } else {
          out += ch + text[i + 1];
          i += 1;
        }
        continue;
      }
      if (ch === '"') inString = !inString;
      out += ch;
    }
    return out;
  }

  const MARKS = { pass: "✓ pass", fail: "✗ FAIL", skipped: "– skipped" };

  function show(steps, list, result, what) {
    list.replaceChildren(
      ...steps.map((step) => {
        const item = document.createElement("li");
        item.dataset.step = step.name;
        item.dataset.status = step.status;
        const mark = document.createElement("span");
        mark.className = "step-mark";
        mark.textContent = MARKS[step.status];
        const name = document.createElement("strong");
        name.textContent = step.name.replace("_", " ");
        item.append(mark, " ", name, ": ", step.message);
        return item;
      }),
    );
    const failed = steps.filter((s) => s.status === "fail").map((s) => s.name);
    const unchecked = steps.find((s) => s.name === "signature" && s.status === "skipped" && s.message.includes("browser"));
    result.dataset.result = failed.length ? "fail" : "pass";
    result.className = `verify-result ${failed.length ? "fail" : "ok"}`;
    result.textContent = failed.length
      ? `${what} does NOT verify: failed at ${failed.join(", ")}.`
      : `${what} verifies: every step passed${
          steps.some((s) => s.status === "skipped") ? " or was skipped for the reason given" : ""
        }${unchecked ? " (the signature could not be checked in this browser)" : ""}.`;
  }

  async function readFile(input) {
    const file = input && input.files && input.files[0];
    return file ? new Uint8Array(await file.arrayBuffer()) : null;
  }

  function setUpVerifier() {
    const box = document.querySelector(".verifier");
    if (!box) return;
    box.hidden = false;
    const list = document.getElementById("verify-steps");
    const result = document.getElementById("verify-result");
    const keysElement = document.getElementById("platform-keys");
    const keys = keysElement ? JSON.parse(keysElement.textContent).map((k) => k.public_key) : null;
    const embedded = document.getElementById("certificate");
    const entriesInput = document.getElementById("entries-file");
    const pasted = document.getElementById("pasted-certificate");
    let running = Promise.resolve();

    const run = (bytes, what) => {
      running = running.then(async () => {
        result.dataset.result = "running";
        result.className = "verify-result";
        result.textContent = `Verifying ${what.toLowerCase()}…`;
        try {
          const entries = await readFile(entriesInput);
          show(await verifyCertificate(bytes, entries, keys), list, result, what);
        } catch (error) {
          result.dataset.result = "fail";
          result.textContent = `The verification stopped: ${error.message}`;
        }
      });
      return running;
    };
    const runEmbedded = () =>
      embedded && run(encoder.encode(embeddedText(embedded.textContent)), "The certificate of this page");
    const runPasted = () => run(encoder.encode(pasted.value.trim()), "The pasted certificate");

    document.getElementById("verify-run")?.addEventListener("click", runEmbedded);
    document.getElementById("verify-pasted")?.addEventListener("click", runPasted);
    entriesInput?.addEventListener("change", () => (embedded ? runEmbedded() : pasted.value.trim() && runPasted()));
    if (embedded) runEmbedded();
  }

  function setUpInclusion() {
    const element = document.getElementById("inclusion");
    if (!element) return;
    const found = JSON.parse(element.textContent);
    const committed = document.getElementById("committed-root");
    const root = committed ? committed.textContent.trim() : found.entries_root;
    let all = true;
    for (const item of found.entries) {
      const ok =
        root === found.entries_root &&
        verifyProof(encoder.encode(item.line), item.index, found.entries_count, item.proof, root);
      all = all && ok;
      const place = document.querySelector(`.proof-result[data-index="${item.index}"] .proof-status`);
      if (place) {
        place.textContent = ok
          ? "verified by your browser against the committed Merkle root"
          : "does NOT lead to the committed Merkle root";
        place.parentElement.dataset.status = ok ? "pass" : "fail";
      }
    }
    const result = document.getElementById("inclusion-result");
    if (result) {
      result.dataset.result = all ? "pass" : "fail";
      result.className = `verify-result ${all ? "ok" : "fail"}`;
      result.textContent = all
        ? `Your ${found.entries.length === 1 ? "entry is" : `${found.entries.length} entries are`} among the ${found.entries_count} committed.`
        : "A proof does NOT match the committed root: this list is not the committed one.";
    }
  }

  window.creatorhubVerify = { verifyCertificate, verifyProof, canonicalJson, merkleRoot, sha256, embeddedText };
  document.addEventListener("DOMContentLoaded", () => {
    setUpVerifier();
    setUpInclusion();
  });
})();
