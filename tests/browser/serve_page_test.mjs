// Real-browser test of derm-serve's page: Debian's Chromium driven by playwright-core.
//
//   node serve_page_test.mjs URL IMAGE SCREENSHOT_PNG [--expect-untrained] [--api-key KEY]
//
// URL is the server's root (http://127.0.0.1:PORT/). Uploads IMAGE through the
// page, checks what it shows against the API's own answer for the same bytes,
// checks the Grad-CAM overlay, the untrained banner, the opacity slider (by
// keyboard) and the 360 px layout, and saves a full-page screenshot. With
// --api-key the server wants that key: the page must ask for it and use it.
// Exit 0: passed (one JSON line on stdout); 1: a check failed (stderr says
// which; also when playwright-core is not installed); 2: bad usage; 77:
// skipped (Chromium is missing or cannot start).
import fs from 'node:fs';
import path from 'node:path';

const SKIP = 77;
const CLASSIFY_TIMEOUT_MS = 60_000;

function usage() {
  console.error('usage: node serve_page_test.mjs URL IMAGE SCREENSHOT_PNG [--expect-untrained] [--api-key KEY]');
  process.exit(2);
}

const args = process.argv.slice(2);
const expectUntrained = args.includes('--expect-untrained');
const keyAt = args.indexOf('--api-key');
const apiKey = keyAt >= 0 ? args[keyAt + 1] : '';
if (keyAt >= 0 && !apiKey) usage();
const positional = args.filter((a, i) => a !== '--expect-untrained' && (keyAt < 0 || (i !== keyAt && i !== keyAt + 1)));
if (positional.length !== 3 || positional.some((a) => a.startsWith('--'))) usage();
const [urlArg, imagePath, screenshotPath] = positional;
const baseUrl = urlArg.endsWith('/') ? urlArg : urlArg + '/';

class CheckFailed extends Error {}
function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

const CONTENT_TYPES = {'.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.bmp': 'image/bmp',
                       '.tif': 'image/tiff', '.tiff': 'image/tiff', '.webp': 'image/webp'};

// The API's own answer for the image, from Node.
async function apiAnswer(bytes, contentType) {
  const headers = {'Content-Type': contentType};
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const response = await fetch(baseUrl + 'v1/classify?heatmap=predicted', {method: 'POST', body: bytes, headers});
  const text = await response.text();
  check(response.ok, `API: POST v1/classify answered ${response.status}: ${text.slice(0, 300)}`);
  const answer = JSON.parse(text);
  check(answer.images && answer.images[0] && answer.images[0].ok, `API: no classified image in ${text.slice(0, 300)}`);
  return answer;
}

async function launchChromium() {
  let chromium;
  try {
    ({chromium} = await import('playwright-core'));
  } catch (e) {
    console.error(`FAIL: playwright-core is not installed (npm ci --prefix ${path.dirname(process.argv[1])}): ${e.code || e.message}`);
    process.exit(1);
  }
  const executablePath = process.env.DERM_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    console.log(`SKIP: no Chromium at ${executablePath} (apt-get install chromium, or set DERM_CHROMIUM)`);
    process.exit(SKIP);
  }
  try {
    return await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    console.log(`SKIP: Chromium at ${executablePath} does not start: ${String(e.message).split('\n')[0]}`);
    process.exit(SKIP);
  }
}

// A page that records what would make the run suspect: script errors and
// requests anywhere but the server itself (the page must be self-contained).
async function openPage(browser, viewport, problems) {
  const context = await browser.newContext({viewport});
  const page = await context.newPage();
  const origin = new URL(baseUrl).origin;
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) {
      problems.push(`request outside the server: ${u}`);
    }
  });
  const response = await page.goto(baseUrl, {waitUntil: 'load'});
  check(response && response.ok(), `GET ${baseUrl} answered ${response ? response.status() : 'nothing'}`);
  return page;
}

const scrollWidth = (page) => page.evaluate(() => document.documentElement.scrollWidth);

// Mean and standard deviation of the heatmap's red channel, drawn on a canvas in the page.
function heatmapStats() {
  const img = document.getElementById('heatmap');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, sum2 = 0;
  const n = data.length / 4;
  for (let i = 0; i < data.length; i += 4) { sum += data[i]; sum2 += data[i] * data[i]; }
  const mean = sum / n;
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
  const photo = document.getElementById('image');
  return {width: img.naturalWidth, height: img.naturalHeight, red_mean: mean,
          red_std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
          image_size: [photo.naturalWidth, photo.naturalHeight], heatmap_box: box(img), image_box: box(photo)};
}

async function run(browser) {
  const started = Date.now();
  const bytes = fs.readFileSync(imagePath);
  const contentType = CONTENT_TYPES[path.extname(imagePath).toLowerCase()] || 'application/octet-stream';
  const answer = await apiAnswer(bytes, contentType);  // before the page's request: a one-at-a-time server stays free
  const expected = answer.images[0];
  const problems = [];

  // An empty page at phone width first.
  const narrow = await openPage(browser, {width: 360, height: 740}, problems);
  const narrowEmptyWidth = await scrollWidth(narrow);
  check(narrowEmptyWidth <= 360, `at 360 px the empty page scrolls sideways (scrollWidth ${narrowEmptyWidth})`);
  await narrow.context().close();

  const page = await openPage(browser, {width: 1100, height: 900}, problems);
  if (apiKey) {
    // A keyed server answers the page's first call with 401: the page asks for the key, then uses it.
    await page.waitForSelector('#key-form', {state: 'visible', timeout: 10_000})
        .catch(() => { throw new CheckFailed('#key-form never appeared though the server wants a key'); });
    check(await page.$eval('#api-key', (el) => el.labels && el.labels.length > 0), '#api-key has no <label>');
    await page.fill('#api-key', apiKey);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('#key-form', {state: 'hidden', timeout: 10_000});
    await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('members'), null,
                               {timeout: 10_000})
        .catch(() => { throw new CheckFailed('the model description did not load with the key'); });
  }
  check(await page.getByText('Research use only. Not a medical device.').first().isVisible(),
        '"Research use only. Not a medical device." is not visible');
  check((await page.textContent('#status')).trim() === 'ready', `#status is not "ready" before an upload`);
  for (const id of ['file-input', 'opacity']) {
    const labelled = await page.$eval(`#${id}`, (el) => el.labels && el.labels.length > 0);
    check(labelled, `#${id} has no <label>`);
  }

  // Enter and Space on the drop zone open the file chooser: they click
  // #file-input (the click is recorded and cancelled, so no dialog opens).
  await page.$eval('#file-input', (input) => {
    window.__chooserClicks = 0;
    window.__recordChooser = (event) => { window.__chooserClicks += 1; event.preventDefault(); };
    input.addEventListener('click', window.__recordChooser);
  });
  await page.focus('#drop-zone');
  await page.keyboard.press('Enter');
  await page.keyboard.press(' ');
  const chooserClicks = await page.evaluate(() => {
    document.getElementById('file-input').removeEventListener('click', window.__recordChooser);
    return window.__chooserClicks;
  });
  check(chooserClicks === 2, `Enter and Space on #drop-zone opened the file chooser ${chooserClicks} times, not 2`);

  await page.setInputFiles('#file-input', imagePath);
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status').textContent.trim()),
                             null, {timeout: CLASSIFY_TIMEOUT_MS});
  if ((await page.textContent('#status')).trim() === 'error') {
    throw new CheckFailed(`the page shows an error: ${(await page.textContent('#error')).trim()}`);
  }
  check(await page.isHidden('#error'), '#error is visible after a successful classification');

  // What the page shows against what the API answers.
  const rows = await page.$$eval('#probabilities tr[data-class]',
                                 (trs) => trs.map((tr) => [tr.dataset.class, tr.dataset.probability]));
  const apiProbabilities = expected.mean_probability.probabilities;
  check(rows.length === Object.keys(apiProbabilities).length,
        `#probabilities has ${rows.length} rows, the API gives ${Object.keys(apiProbabilities).length} classes`);
  for (const [name, shown] of rows) {
    check(name in apiProbabilities, `#probabilities has a row for "${name}", which the API does not name`);
    check(Math.abs(Number(shown) - apiProbabilities[name]) < 1e-9,
          `#probabilities row "${name}": data-probability ${shown}, API ${apiProbabilities[name]}`);
  }
  const verdictClass = await page.getAttribute('#verdict', 'data-class');
  const verdictText = await page.innerText('#verdict');
  check(verdictClass === expected.prediction, `#verdict names "${verdictClass}", the API predicts "${expected.prediction}"`);
  check(verdictText.toLowerCase().includes(expected.prediction.replace(/_/g, ' ').toLowerCase()),
        `#verdict does not show "${expected.prediction}": ${JSON.stringify(verdictText)}`);
  const memberCount = await page.$$eval('#members li', (items) => items.length);
  check(memberCount === expected.members.length, `#members lists ${memberCount} members, the API ${expected.members.length}`);

  // The Grad-CAM overlay: loaded, not blank, the image's size and stacked on it.
  await page.waitForFunction(() => {
    const img = document.getElementById('heatmap');
    return img.complete && img.naturalWidth > 0;
  }, null, {timeout: 10_000}).catch(() => { throw new CheckFailed('#heatmap never loaded (naturalWidth 0)'); });
  const heatmap = await page.evaluate(heatmapStats);
  check(heatmap.red_std > 5, `#heatmap looks blank: red channel standard deviation ${heatmap.red_std.toFixed(2)}`);
  check(heatmap.width === heatmap.image_size[0] && heatmap.height === heatmap.image_size[1],
        `#heatmap is ${heatmap.width}x${heatmap.height}, the image ${heatmap.image_size.join('x')}`);
  check(heatmap.heatmap_box.every((v, i) => Math.abs(v - heatmap.image_box[i]) <= 1),
        `#heatmap's box ${heatmap.heatmap_box} is not the image's ${heatmap.image_box}`);

  const bannerVisible = await page.isVisible('#untrained-banner');
  check(bannerVisible === expectUntrained,
        `#untrained-banner is ${bannerVisible ? 'visible' : 'hidden'}, expected ${expectUntrained ? 'visible' : 'hidden'}` +
        ` (the API says untrained: ${answer.untrained})`);

  // The opacity slider, by keyboard.
  const overlayOpacity = () => page.$eval('#heatmap', (el) => Number(getComputedStyle(el).opacity));
  const opacityBefore = await overlayOpacity();
  check(Math.abs(opacityBefore - 0.6) < 1e-6, `the overlay's opacity starts at ${opacityBefore}, not 0.6`);
  await page.focus('#opacity');
  for (let i = 0; i < 4; ++i) await page.keyboard.press('ArrowLeft');
  const opacityAfter = await overlayOpacity();
  check(opacityAfter < opacityBefore - 1e-6, `ArrowLeft on #opacity left the overlay's opacity at ${opacityAfter}`);

  await page.screenshot({path: screenshotPath, fullPage: true});

  // The page with its results at phone width.
  await page.setViewportSize({width: 360, height: 740});
  const narrowResultsWidth = await scrollWidth(page);
  check(narrowResultsWidth <= 360, `at 360 px the page with results scrolls sideways (scrollWidth ${narrowResultsWidth})`);

  check(problems.length === 0, problems.join('; '));
  return {
    ok: true, url: baseUrl, image: imagePath, browser: `chromium ${browser.version()}`,
    prediction: expected.prediction, probabilities: Object.fromEntries(rows.map(([c, p]) => [c, Number(p)])),
    members: memberCount, untrained_banner: bannerVisible,
    heatmap: {width: heatmap.width, height: heatmap.height, red_std: Number(heatmap.red_std.toFixed(2))},
    opacity: {before: opacityBefore, after: opacityAfter},
    scroll_width_360: {empty: narrowEmptyWidth, results: narrowResultsWidth},
    screenshot: screenshotPath, seconds: Number(((Date.now() - started) / 1000).toFixed(2)),
  };
}

const browser = await launchChromium();
let exitCode = 0;
try {
  console.log(JSON.stringify(await run(browser)));
} catch (e) {
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  exitCode = 1;
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
