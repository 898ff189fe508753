// Progressive enhancement only: without scripts every page is complete and right when it is served (the time and
// the minutes left as the pump said them), and every action is a plain form.

// A press form sends once: after the first submit the button is disabled and says so (the server refuses a second
// use of the same press id anyway; this only spares the patient a confusing second tap).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.hasAttribute("data-once")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  const button = form.querySelector("button[type=submit]");
  if (button) {
    setTimeout(() => { button.disabled = true; button.textContent = "Sending… keep the device over the pump"; }, 0);
  }
});

// The pump's clock as this page last heard it, moved on by the time since (the pump's own clock sets the pace: each
// refresh resets it, so a pump whose clock runs fast in a simulation is followed too).
const pumpClock = { wallMs: null, at: performance.now() };
const SAY_EVERY_MIN = 5; // the countdown is said to a screen reader every 5 minutes, never every second

function pumpNow(element) {
  if (pumpClock.wallMs === null) pumpClock.wallMs = Number(element.dataset.nowWallMs);
  return pumpClock.wallMs + (performance.now() - pumpClock.at);
}

function left(ms) {
  const minutes = Math.max(0, Math.ceil(ms / 60000));
  const h = Math.floor(minutes / 60), m = minutes % 60;
  if (h && m) return `${h} h ${m} min`;
  return h ? `${h} h` : `${m} min`;
}

function tick() {
  const said = document.getElementById("countdown-said");
  document.querySelectorAll(".countdown").forEach((element) => {
    const ms = Number(element.dataset.untilWallMs) - pumpNow(element);
    const shown = element.querySelector(".count-shown");
    const spoken = element.querySelector(".count-said");
    if (!shown || !spoken) return;
    // The words the page was served with stay for screen readers; the moving figure is for the eye only.
    spoken.classList.add("sr-only");
    shown.hidden = false;
    shown.textContent = ms > 0 ? `in ${left(ms)}` : "now";
    const step = ms > 0 ? Math.ceil(ms / 60000 / SAY_EVERY_MIN) : 0;
    if (said && element.dataset.step !== String(step)) {
      const first = element.dataset.step === undefined;
      element.dataset.step = String(step);
      if (!first) said.textContent = ms > 0 ? `Next dose possible in ${left(ms)}.` : "Another dose is possible now.";
    }
  });
}

async function refresh() {
  let now;
  try {
    const reply = await fetch("/live", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!reply.ok) return;
    now = await reply.json();
  } catch (error) {
    return; // the app is not reachable: the page keeps what it shows
  }
  if (now.now_wall_ms !== null) {
    pumpClock.wallMs = now.now_wall_ms;
    pumpClock.at = performance.now();
  }
  const answer = document.querySelector("[data-live=home]");
  if (answer && answer.dataset.key !== now.key) {
    // Only a change of what the answer says is announced, in the answer's own live region.
    answer.dataset.key = now.key;
    answer.dataset.kind = now.kind;
    answer.className = `answer answer-${now.kind}`;
    answer.setAttribute("role", now.role);
    answer.setAttribute("aria-live", now.role === "alert" ? "assertive" : "polite");
    answer.innerHTML = now.html;
  }
  const pending = document.getElementById("pending");
  if (pending && now.reachable && now.unsettled.length === 0) pending.remove();
  const unsettled = document.querySelector("[data-unsettled]");
  if (unsettled && now.reachable && !now.unsettled.includes(unsettled.dataset.unsettled)) {
    window.location.reload(); // the pump's record settled this request: the page only reads what is kept
    return;
  }
  const banner = document.getElementById("pump-alarm");
  if (banner && banner.dataset.key !== (now.alarm ? now.key : "")) {
    banner.dataset.key = now.alarm ? now.key : "";
    banner.className = now.alarm ? "answer answer-alarm" : "";
    banner.innerHTML = now.alarm ? `${now.html}<p><a href="/">Go to the start page</a></p>` : "";
  }
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
  const every = Number(document.body.dataset.refreshMs);
  if (every > 0) setInterval(refresh, every);
});
