// talkavatar web player (Apache-2.0): the Gaussian avatar posed and splatted in WebGL2, in sync with its audio.
//
// Per frame: (1) vertex pass on the GPU: every rig vertex gets its ARKit morphs and its blended LBS transform
// (rendered into four float textures: the transform's three rows and the morphed rest position); (2) a depth
// sort of the Gaussians on the CPU, from a cheap skinning of the vertices' depth; (3) splat pass on the GPU: each
// Gaussian is placed on its posed triangle and turned with the triangle's frame (talkavatar.core.avatar.Avatar.pose),
// projected with gsplat's EWA rules, and blended back to front into a half-float target; (4) that target over the
// background, sRGB-encoded, into the canvas. Conventions: OpenCV cameras (x right, y down, z forward), metres.
"use strict";

const TEX_W = 2048;
const MAX_INFLUENCES = 12;     // skinning weights per vertex the vertex pass reads (talkavatar.export.web checks)            // every data texture is TEX_W wide; item i lives at (i % TEX_W, i / TEX_W)
const ARKIT = 52;
const EPS2D = 0.3, FOV_CLAMP = 0.3, ALPHA_MIN = 1 / 255, MAX_ALPHA = 0.999, BBOX_SIGMAS = 3.33, NEAR = 0.01;

const state = { ready: false, error: null, frames: 0, key: -1, time: 0, playing: false };
window.talkavatar = state;

const FETCH = `ivec2 at(int i) { return ivec2(i % ${TEX_W}, i / ${TEX_W}); }`;

const VERTEX_PASS_VS = `#version 300 es
in vec2 aPos; void main() { gl_Position = vec4(aPos, 0.0, 1.0); }`;

const VERTEX_PASS_FS = `#version 300 es
precision highp float; precision highp int; precision highp sampler2D;
uniform sampler2D tRest, tSkinI0, tSkinI1, tSkinI2, tSkinW0, tSkinW1, tSkinW2, tMorph, tBones;
uniform float uWeights[${ARKIT}];
uniform int uCount;
layout(location = 0) out vec4 row0;
layout(location = 1) out vec4 row1;
layout(location = 2) out vec4 row2;
layout(location = 3) out vec4 restOut;
${FETCH}
void addBones(vec4 idx, vec4 w, inout vec4 a, inout vec4 b, inout vec4 c) {
  for (int k = 0; k < 4; k++) {
    if (w[k] <= 0.0) continue;
    int j = 3 * int(idx[k] + 0.5);
    a += w[k] * texelFetch(tBones, at(j), 0);
    b += w[k] * texelFetch(tBones, at(j + 1), 0);
    c += w[k] * texelFetch(tBones, at(j + 2), 0);
  }
}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  int i = p.y * ${TEX_W} + p.x;
  if (i >= uCount) { row0 = row1 = row2 = restOut = vec4(0.0); return; }
  vec4 r = texelFetch(tRest, p, 0);
  vec3 pos = r.xyz;
  int slot = int(r.w + 0.5) - 1;
  if (slot >= 0) {
    for (int k = 0; k < ${ARKIT}; k++) {
      if (uWeights[k] != 0.0) pos += uWeights[k] * texelFetch(tMorph, at(slot * ${ARKIT} + k), 0).xyz;
    }
  }
  vec4 a = vec4(0.0), b = vec4(0.0), c = vec4(0.0);
  addBones(texelFetch(tSkinI0, p, 0), texelFetch(tSkinW0, p, 0), a, b, c);
  addBones(texelFetch(tSkinI1, p, 0), texelFetch(tSkinW1, p, 0), a, b, c);
  addBones(texelFetch(tSkinI2, p, 0), texelFetch(tSkinW2, p, 0), a, b, c);
  row0 = a; row1 = b; row2 = c; restOut = vec4(pos, 1.0);
}`;

const SPLAT_VS = `#version 300 es
precision highp float; precision highp int; precision highp sampler2D;
uniform sampler2D tRow0, tRow1, tRow2, tRestP, gCorner, gBary, gOffset, gQuat, gScale, gColor;
uniform mat4 uView;     // world -> camera (OpenCV)
uniform vec4 uIntr;     // fx, fy, cx, cy
uniform vec2 uSize;     // width, height in pixels
in vec2 aCorner;
in uint aIndex;
out vec2 vD;
out vec3 vConic;
out vec4 vColor;
${FETCH}
mat3 frameOf(vec3 p0, vec3 p1, vec3 p2) {
  vec3 e1 = normalize(p1 - p0);
  vec3 n = normalize(cross(p1 - p0, p2 - p0));
  return mat3(e1, cross(n, e1), n);
}
mat3 quatToMat(vec4 q) {  // q = (w, x, y, z)
  q = normalize(q);
  float w = q.x, x = q.y, y = q.z, z = q.w;
  return mat3(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),
              2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),
              2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y));
}
void cull() { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); }
void main() {
  int g = int(aIndex);
  ivec3 c = ivec3(texelFetch(gCorner, at(g), 0).xyz + 0.5);
  vec3 bary = texelFetch(gBary, at(g), 0).xyz;
  vec3 posed[3], rest[3];
  mat3 linear = mat3(0.0);
  for (int k = 0; k < 3; k++) {
    ivec2 p = at(c[k]);
    vec4 r0 = texelFetch(tRow0, p, 0), r1 = texelFetch(tRow1, p, 0), r2 = texelFetch(tRow2, p, 0);
    vec3 x = texelFetch(tRestP, p, 0).xyz;
    posed[k] = vec3(dot(r0.xyz, x) + r0.w, dot(r1.xyz, x) + r1.w, dot(r2.xyz, x) + r2.w);
    rest[k] = x;
    linear += bary[k] * transpose(mat3(r0.xyz, r1.xyz, r2.xyz));
  }
  vec3 mean = bary.x * posed[0] + bary.y * posed[1] + bary.z * posed[2]
            + linear * texelFetch(gOffset, at(g), 0).xyz;
  mat3 turn = frameOf(posed[0], posed[1], posed[2]) * transpose(frameOf(rest[0], rest[1], rest[2]));
  vec3 s = exp(texelFetch(gScale, at(g), 0).xyz);
  mat3 m = turn * quatToMat(texelFetch(gQuat, at(g), 0)) * mat3(s.x, 0.0, 0.0, 0.0, s.y, 0.0, 0.0, 0.0, s.z);
  mat3 rot = mat3(uView);
  mat3 cov = rot * m * transpose(m) * transpose(rot);
  vec3 t = (uView * vec4(mean, 1.0)).xyz;
  vec4 color = texelFetch(gColor, at(g), 0);
  if (t.z < ${NEAR} || color.a < ${ALPHA_MIN}) { cull(); return; }
  float fx = uIntr.x, fy = uIntr.y, cx = uIntr.z, cy = uIntr.w;
  float limXp = (uSize.x - cx) / fx + ${FOV_CLAMP} * 0.5 * uSize.x / fx, limXn = cx / fx + ${FOV_CLAMP} * 0.5 * uSize.x / fx;
  float limYp = (uSize.y - cy) / fy + ${FOV_CLAMP} * 0.5 * uSize.y / fy, limYn = cy / fy + ${FOV_CLAMP} * 0.5 * uSize.y / fy;
  float tx = t.z * min(limXp, max(-limXn, t.x / t.z)), ty = t.z * min(limYp, max(-limYn, t.y / t.z));
  mat3 J = mat3(fx / t.z, 0.0, 0.0, 0.0, fy / t.z, 0.0, -fx * tx / (t.z * t.z), -fy * ty / (t.z * t.z), 0.0);
  mat3 cov2 = J * cov * transpose(J);
  float a = cov2[0][0] + ${EPS2D}, b = cov2[0][1], d = cov2[1][1] + ${EPS2D};
  float det = a * d - b * b;
  if (det <= 0.0) { cull(); return; }
  float extend = min(sqrt(2.0 * log(color.a / ${ALPHA_MIN})), ${BBOX_SIGMAS});
  vec2 radius = ceil(extend * sqrt(vec2(a, d)));
  vec2 centre = vec2(fx * t.x / t.z + cx, fy * t.y / t.z + cy);
  vD = aCorner * radius;
  vec2 pixel = centre + vD;
  vConic = vec3(d / det, -b / det, a / det);
  vColor = color;
  gl_Position = vec4(2.0 * pixel.x / uSize.x - 1.0, 1.0 - 2.0 * pixel.y / uSize.y, 0.0, 1.0);
}`;

const SPLAT_FS = `#version 300 es
precision highp float;
in vec2 vD; in vec3 vConic; in vec4 vColor;
out vec4 outColor;
void main() {
  float sigma = 0.5 * (vConic.x * vD.x * vD.x + vConic.z * vD.y * vD.y) + vConic.y * vD.x * vD.y;
  if (sigma < 0.0) discard;
  float alpha = min(${MAX_ALPHA}, vColor.a * exp(-sigma));
  if (alpha < ${ALPHA_MIN}) discard;
  outColor = vec4(vColor.rgb * alpha, alpha);
}`;

const COMPOSITE_FS = `#version 300 es
precision highp float; precision highp sampler2D;
uniform sampler2D tAccum;
uniform vec3 uBackground;   // linear
out vec4 outColor;
vec3 srgb(vec3 c) { c = clamp(c, 0.0, 1.0);
  return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c)); }
void main() {
  vec4 acc = texelFetch(tAccum, ivec2(gl_FragCoord.xy), 0);
  outColor = vec4(srgb(acc.rgb + (1.0 - acc.a) * uBackground), 1.0);
}`;

// ---------------------------------------------------------------------------------------------- GL helpers
function program(gl, vs, fs) {
  const prog = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const sh = gl.createShader(type);
    gl.shaderSource(sh, src);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
    gl.attachShader(prog, sh);
  }
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  const uniforms = {};
  for (let i = 0; i < gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS); i++) {
    const name = gl.getActiveUniform(prog, i).name.replace(/\[0\]$/, "");
    uniforms[name] = gl.getUniformLocation(prog, name);
  }
  return { prog, uniforms };
}

// A float RGBA texture holding `count` items of `width` (<= 4) floats each, zero-padded.
function floatTexture(gl, values, width, count) {
  const rows = Math.max(1, Math.ceil(count / TEX_W));
  const data = new Float32Array(TEX_W * rows * 4);
  for (let i = 0; i < count; i++) for (let k = 0; k < width; k++) data[4 * i + k] = values[width * i + k];
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, TEX_W, rows, 0, gl.RGBA, gl.FLOAT, data);
  for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
  tex.rows = rows;
  tex.data = data;
  return tex;
}

function targetTexture(gl, internal, format, type, width, height) {
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texImage2D(gl.TEXTURE_2D, 0, internal, width, height, 0, format, type, null);
  for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
  return tex;
}

function framebuffer(gl, textures) {
  const fb = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
  textures.forEach((t, i) => gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + i, gl.TEXTURE_2D, t, 0));
  gl.drawBuffers(textures.map((_, i) => gl.COLOR_ATTACHMENT0 + i));
  if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) throw new Error("framebuffer incomplete");
  return fb;
}

function bindTextures(gl, prog, textures) {
  Object.entries(textures).forEach(([name, tex], unit) => {
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.uniform1i(prog.uniforms[name], unit);
  });
}

// ---------------------------------------------------------------------------------------------- data
async function loadAvatar(base) {
  const doc = await (await fetch(base + "avatar.json")).json();
  const blob = await (await fetch(base + "avatar.bin")).arrayBuffer();
  const kinds = { float32: Float32Array, uint32: Uint32Array, uint16: Uint16Array };
  const arrays = {};
  for (const [name, a] of Object.entries(doc.arrays)) {
    const count = a.shape.reduce((x, y) => x * y, 1);
    arrays[name] = new kinds[a.dtype](blob, a.offset, count);
  }
  return { doc, arrays };
}

// Split [V, K] skinning (K <= MAX_INFLUENCES) into three [V, 4] parts, padded with weight 0.
function skinParts(indices, weights, count, k) {
  if (k > MAX_INFLUENCES) throw new Error(`more than ${MAX_INFLUENCES} skinning weights per vertex`);
  const out = [0, 1, 2].map(() => ({ i: new Float32Array(count * 4), w: new Float32Array(count * 4) }));
  for (let v = 0; v < count; v++) for (let s = 0; s < k; s++) {
    const part = out[s >> 2];
    part.i[4 * v + (s & 3)] = indices[k * v + s];
    part.w[4 * v + (s & 3)] = weights[k * v + s];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- the player
class Player {
  // `scale` sizes the canvas relative to the exported camera (e.g. 0.5: half the pixels per side, faster).
  constructor(canvas, avatar, scale = 1) {
    const { doc, arrays } = avatar;
    this.doc = doc; this.arrays = arrays;
    const gl = canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: false, preserveDrawingBuffer: true });
    if (!gl) throw new Error("this browser has no WebGL2");
    if (!gl.getExtension("EXT_color_buffer_float")) throw new Error("this browser cannot render to float textures");
    this.gl = gl;
    canvas.width = Math.round(doc.camera.width * scale); canvas.height = Math.round(doc.camera.height * scale);
    this.width = canvas.width; this.height = canvas.height;
    this.view = Float32Array.from(doc.camera.world_to_camera);  // row-major
    this.orbit = null;
    this.setupVertexPass();
    this.setupSplats();
    this.composite = program(gl, VERTEX_PASS_VS, COMPOSITE_FS);
    this.accum = targetTexture(gl, gl.RGBA16F, gl.RGBA, gl.HALF_FLOAT, this.width, this.height);
    this.accumFb = framebuffer(gl, [this.accum]);
    this.quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  }

  setupVertexPass() {
    const { gl, doc, arrays } = this;
    const V = doc.vertices, M = doc.morph_vertices;
    const rest = new Float32Array(V * 4);
    for (let v = 0; v < V; v++) for (let k = 0; k < 3; k++) rest[4 * v + k] = arrays.rest_vertices[3 * v + k];
    arrays.morph_vertex.forEach((v, slot) => { rest[4 * v + 3] = slot + 1; });
    const parts = skinParts(arrays.skin_indices, arrays.skin_weights, V, doc.influences);
    const morph = new Float32Array(Math.max(1, M * ARKIT) * 3);
    morph.set(arrays.morph_offsets);
    this.vertexTextures = {
      tRest: floatTexture(gl, rest, 4, V),
      ...Object.fromEntries(parts.flatMap((p, n) => [[`tSkinI${n}`, floatTexture(gl, p.i, 4, V)],
                                                      [`tSkinW${n}`, floatTexture(gl, p.w, 4, V)]])),
      tMorph: floatTexture(gl, morph, 3, Math.max(1, M * ARKIT)),
      tBones: floatTexture(gl, new Float32Array(doc.bones * 12), 4, doc.bones * 3),
    };
    this.vertexPass = program(gl, VERTEX_PASS_VS, VERTEX_PASS_FS);
    this.vertexRows = this.vertexTextures.tRest.rows;
    this.vertexOut = [0, 1, 2, 3].map(() => targetTexture(gl, gl.RGBA32F, gl.RGBA, gl.FLOAT, TEX_W, this.vertexRows));
    this.vertexFb = framebuffer(gl, this.vertexOut);
  }

  setupSplats() {
    const { gl, doc, arrays } = this;
    const N = doc.gaussians;
    const color = new Float32Array(N * 4);
    for (let g = 0; g < N; g++) {
      color.set(arrays.rgb.subarray(3 * g, 3 * g + 3), 4 * g);
      color[4 * g + 3] = arrays.opacity[g];
    }
    this.splatTextures = {
      gCorner: floatTexture(gl, Float32Array.from(arrays.corners), 3, N),
      gBary: floatTexture(gl, arrays.barycentrics, 3, N), gOffset: floatTexture(gl, arrays.offsets, 3, N),
      gQuat: floatTexture(gl, arrays.quats, 4, N), gScale: floatTexture(gl, arrays.log_scales, 3, N),
      gColor: floatTexture(gl, color, 4, N),
    };
    this.splat = program(gl, SPLAT_VS, SPLAT_FS);
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    const corner = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, corner);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const aCorner = gl.getAttribLocation(this.splat.prog, "aCorner");
    gl.enableVertexAttribArray(aCorner);
    gl.vertexAttribPointer(aCorner, 2, gl.FLOAT, false, 0, 0);
    this.order = new Uint32Array(N);
    this.indexBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.indexBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, this.order, gl.DYNAMIC_DRAW);
    const aIndex = gl.getAttribLocation(this.splat.prog, "aIndex");
    gl.enableVertexAttribArray(aIndex);
    gl.vertexAttribIPointer(aIndex, 1, gl.UNSIGNED_INT, 0, 0);
    gl.vertexAttribDivisor(aIndex, 1);
    gl.bindVertexArray(null);
    // for the CPU depth sort
    this.vertexDepth = new Float32Array(doc.vertices);
    this.depth = new Float32Array(N);
    this.counts = new Uint32Array(65536);
  }

  keyAt(time) {
    const times = this.arrays.times;
    let lo = 0, hi = times.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (times[mid] <= time + 1e-6) lo = mid; else hi = mid - 1; }
    return lo;
  }

  bones(key) {
    const n = this.doc.bones * 12;
    return this.arrays.bone_matrices.subarray(key * n, key * n + n);
  }

  // Back-to-front order of the Gaussians from their triangles' skinned depths (morphs and offsets ignored).
  sort(key) {
    const { doc, arrays, view } = this;
    const B = this.bones(key), J = doc.bones, K = doc.influences;
    const depthRow = new Float32Array(J * 4);   // (view row z) . [bone 3x4] per bone
    for (let j = 0; j < J; j++) for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let r = 0; r < 3; r++) s += view[8 + r] * B[12 * j + 4 * r + c];
      depthRow[4 * j + c] = s;
    }
    const rest = arrays.rest_vertices, idx = arrays.skin_indices, w = arrays.skin_weights, vd = this.vertexDepth;
    for (let v = 0; v < doc.vertices; v++) {
      const x = rest[3 * v], y = rest[3 * v + 1], z = rest[3 * v + 2];
      let d = view[11];
      for (let s = 0; s < K; s++) {
        const wt = w[K * v + s];
        if (wt === 0) continue;
        const j = 4 * idx[K * v + s];
        d += wt * (depthRow[j] * x + depthRow[j + 1] * y + depthRow[j + 2] * z + depthRow[j + 3]);
      }
      vd[v] = d;
    }
    const N = doc.gaussians, corners = arrays.corners, bary = arrays.barycentrics, depth = this.depth;
    let lo = Infinity, hi = -Infinity;
    for (let g = 0; g < N; g++) {
      const d = bary[3 * g] * vd[corners[3 * g]] + bary[3 * g + 1] * vd[corners[3 * g + 1]]
              + bary[3 * g + 2] * vd[corners[3 * g + 2]];
      depth[g] = d;
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    const scale = 65535 / Math.max(hi - lo, 1e-9), counts = this.counts;
    counts.fill(0);
    const bucket = new Uint16Array(N);
    for (let g = 0; g < N; g++) { bucket[g] = 65535 - Math.floor((depth[g] - lo) * scale); counts[bucket[g]]++; }
    for (let b = 1; b < 65536; b++) counts[b] += counts[b - 1];
    for (let g = N - 1; g >= 0; g--) this.order[--counts[bucket[g]]] = g;   // far first (stable)
  }

  draw(time) {
    const { gl, doc, arrays } = this;
    const key = this.keyAt(time);
    // (1) vertex pass
    gl.bindTexture(gl.TEXTURE_2D, this.vertexTextures.tBones);
    const bonesTex = this.vertexTextures.tBones;
    const B = this.bones(key);
    for (let i = 0; i < doc.bones * 12; i++) bonesTex.data[i] = B[i];
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, bonesTex.rows, gl.RGBA, gl.FLOAT, bonesTex.data);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.vertexFb);
    gl.viewport(0, 0, TEX_W, this.vertexRows);
    gl.disable(gl.BLEND);
    gl.useProgram(this.vertexPass.prog);
    bindTextures(gl, this.vertexPass, this.vertexTextures);
    gl.uniform1fv(this.vertexPass.uniforms.uWeights, arrays.arkit_weights.subarray(key * ARKIT, key * ARKIT + ARKIT));
    gl.uniform1i(this.vertexPass.uniforms.uCount, doc.vertices);
    this.fullscreen(this.vertexPass);
    // (2) sort, (3) splats
    this.sort(key);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.indexBuffer);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, this.order);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.accumFb);
    gl.viewport(0, 0, this.width, this.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.splat.prog);
    const [r0, r1, r2, rp] = this.vertexOut;
    bindTextures(gl, this.splat, { tRow0: r0, tRow1: r1, tRow2: r2, tRestP: rp, ...this.splatTextures });
    const v = this.view;   // row-major -> column-major
    gl.uniformMatrix4fv(this.splat.uniforms.uView, false,
      [v[0], v[4], v[8], v[12], v[1], v[5], v[9], v[13], v[2], v[6], v[10], v[14], v[3], v[7], v[11], v[15]]);
    const c = doc.camera;
    gl.uniform4f(this.splat.uniforms.uIntr, c.fx * this.width / c.width, c.fy * this.height / c.height,
                 c.cx * this.width / c.width, c.cy * this.height / c.height);
    gl.uniform2f(this.splat.uniforms.uSize, this.width, this.height);
    gl.bindVertexArray(this.vao);
    gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, 4, doc.gaussians);
    gl.bindVertexArray(null);
    // (4) over the background, to the canvas
    gl.disable(gl.BLEND);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.useProgram(this.composite.prog);
    bindTextures(gl, this.composite, { tAccum: this.accum });
    gl.uniform3fv(this.composite.uniforms.uBackground, doc.background);
    this.fullscreen(this.composite);
    state.key = key;
    state.frames++;
  }

  fullscreen(prog) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
    const loc = gl.getAttribLocation(prog.prog, "aPos");
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.disableVertexAttribArray(loc);
  }

  // Orbit about the target: yaw about +Y, pitch, distance. Replaces the exported start camera once used.
  orbitBy(dYaw, dPitch, zoom) {
    if (!this.orbit) {
      const v = this.view, t = [v[3], v[7], v[11]];
      const eye = [0, 1, 2].map(i => -(v[i] * t[0] + v[4 + i] * t[1] + v[8 + i] * t[2]));
      const target = this.doc.camera.target, off = eye.map((e, i) => e - target[i]);
      const dist = Math.hypot(...off);
      this.orbit = { yaw: Math.atan2(off[0], off[2]), pitch: Math.asin(off[1] / dist), dist, target };
    }
    const o = this.orbit;
    o.yaw += dYaw;
    o.pitch = Math.max(-1.5, Math.min(1.5, o.pitch + dPitch));
    o.dist *= zoom;
    const eye = [o.target[0] + o.dist * Math.cos(o.pitch) * Math.sin(o.yaw), o.target[1] + o.dist * Math.sin(o.pitch),
                 o.target[2] + o.dist * Math.cos(o.pitch) * Math.cos(o.yaw)];
    const norm = a => { const n = Math.hypot(...a); return a.map(x => x / n); };
    const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    const z = norm(o.target.map((x, i) => x - eye[i]));
    const x = norm(cross([0, -1, 0], z)), y = cross(z, x);
    const rows = [x, y, z];
    this.view = Float32Array.from([].concat(...rows.map(r => [...r, -(r[0] * eye[0] + r[1] * eye[1] + r[2] * eye[2])]),
                                            [0, 0, 0, 1]));
  }

  resetView() { this.view = Float32Array.from(this.doc.camera.world_to_camera); this.orbit = null; }
}

// ---------------------------------------------------------------------------------------------- page wiring
function formatTime(t) { return `${t.toFixed(2)} s`; }

async function main() {
  const params = new URLSearchParams(location.search);
  const canvas = document.getElementById("view"), button = document.getElementById("play");
  const label = document.getElementById("time"), poster = document.getElementById("poster");
  const avatar = await loadAvatar("");
  const player = new Player(canvas, avatar, Math.min(2, Math.max(0.1, parseFloat(params.get("scale") || "1"))));
  const doc = avatar.doc;
  const audio = doc.audio ? new Audio(doc.audio) : null;
  let clockStart = 0, dirty = true;
  // Paused: the time last seeked or paused at. Playing: the audio's clock (the sound leads), else a wall clock.
  const now = () => !state.playing ? state.time
    : audio ? audio.currentTime : state.time + (performance.now() - clockStart) / 1000;

  function setPlaying(on) {
    if (on === state.playing) return;
    if (on && state.time >= doc.seconds - 1e-3) seek(0);
    if (!on) state.time = Math.min(now(), doc.seconds);
    state.playing = on;
    button.textContent = on ? "Pause" : "Play";
    if (audio) {
      if (on) { audio.currentTime = state.time; audio.play().catch(e => { state.error = String(e); setPlaying(false); }); }
      else audio.pause();
    } else if (on) clockStart = performance.now();
    dirty = true;
  }
  function seek(t) {
    t = Math.max(0, Math.min(doc.seconds, t));
    state.time = t;
    if (audio) audio.currentTime = t; else clockStart = performance.now();
    dirty = true;
  }
  if (audio) {
    audio.addEventListener("ended", () => setPlaying(false));
    audio.addEventListener("seeked", () => { dirty = true; });
  }
  button.addEventListener("click", () => setPlaying(!state.playing));
  window.addEventListener("keydown", e => { if (e.code === "Space") { e.preventDefault(); setPlaying(!state.playing); } });
  let drag = null;
  canvas.addEventListener("pointerdown", e => { drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", e => {
    if (!drag) return;
    player.orbitBy(-(e.clientX - drag[0]) * 0.01, (e.clientY - drag[1]) * 0.01, 1);
    drag = [e.clientX, e.clientY]; dirty = true;
  });
  canvas.addEventListener("wheel", e => { e.preventDefault(); player.orbitBy(0, 0, Math.exp(e.deltaY * 0.001)); dirty = true; },
                          { passive: false });
  canvas.addEventListener("dblclick", () => { player.resetView(); dirty = true; });

  state.audio = audio;
  state.play = () => setPlaying(true);
  state.pause = () => setPlaying(false);
  state.seek = seek;
  state.resetView = () => { player.resetView(); dirty = true; };
  state.setView = rowMajor => { player.view = Float32Array.from(rowMajor); player.orbit = null; dirty = true; };
  state.orbit = (yaw, pitch, zoom) => { player.orbitBy(yaw, pitch, zoom || 1); dirty = true; };
  // Render `frames` frames back to back (sort + skin + splat + composite, waiting for the GPU each time).
  state.bench = (frames, time) => {
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) { player.draw(time === undefined ? (i / frames) * doc.seconds : time); player.gl.finish(); }
    const ms = (performance.now() - t0) / frames;
    return { ms, fps: 1000 / ms, gaussians: doc.gaussians, width: player.width, height: player.height };
  };
  if (params.has("t")) seek(parseFloat(params.get("t")));

  function frame() {
    let t = now();
    if (state.playing && !audio && t >= doc.seconds) { state.time = doc.seconds; setPlaying(false); t = doc.seconds; }
    if (state.playing || dirty) {
      if (state.playing) state.time = t;
      player.draw(t);
      poster.style.display = "none";
      dirty = false;
      label.textContent = `${formatTime(t)} / ${formatTime(doc.seconds)}`;
      state.ready = true;
    }
    requestAnimationFrame(frame);
  }
  button.disabled = false;
  requestAnimationFrame(frame);
}

main().catch(e => {
  state.error = String(e && e.message || e);
  document.getElementById("note").textContent = "cannot play here: " + state.error;
  console.error(e);
});
