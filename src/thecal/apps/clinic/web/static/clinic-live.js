// The pump page's "Now" panel, kept current. Progressive enhancement only: without scripts the panel is right as of
// the page's load. Every refresh period the page asks /pumps/SERIAL/live; the panel is replaced only when what it
// says changes, and a change that matters (an alarm, a bolus ending, therapy stopping, the pump out of reach) is said
// in words in the panel's polite live region, never by colour alone.

function changes(before, after) {
  const said = [];
  if (before.live && !after.live) return [`The pump cannot be read live now. ${after.why}`];
  if (!before.live && after.live) said.push("The pump is read live again.");
  const had = new Map((before.alarms || []).map((a) => [a.code, a.words]));
  const has = new Map((after.alarms || []).map((a) => [a.code, a.words]));
  for (const [code, words] of has) if (!had.has(code)) said.push(`New alarm: ${words}.`);
  for (const [code, words] of had) if (!has.has(code)) said.push(`Alarm cleared: ${words}.`);
  if (before.bolus && !after.bolus) said.push("The bolus has ended.");
  if (!before.bolus && after.bolus) said.push("A bolus is running.");
  if (before.live && after.live && before.mode !== after.mode) said.push(`Pump status now: ${after.mode_text}.`);
  return said;
}

async function refresh(panel) {
  let now;
  try {
    const reply = await fetch(panel.dataset.liveUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
    // Signed out (a redirect to the sign-in page) or refused: the panel keeps what it shows.
    if (!reply.ok || !(reply.headers.get("content-type") || "").includes("application/json")) return;
    now = await reply.json();
  } catch (error) {
    return; // the programmer is not reachable: the panel keeps what it shows
  }
  if (typeof now.html !== "string" || !now.state || now.key === panel.dataset.key) return; // nothing new to say
  panel.dataset.key = now.key;
  const body = panel.querySelector("#now-body");
  if (body) body.innerHTML = now.html;
  const before = JSON.parse(panel.dataset.state || "{}");
  const said = changes(before, now.state);
  panel.dataset.state = JSON.stringify(now.state);
  const region = panel.querySelector("#now-said");
  if (region && said.length) region.textContent = said.join(" ");
}

document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("now");
  if (!panel) return;
  const every = Number(panel.dataset.refreshMs);
  if (every > 0) setInterval(() => refresh(panel), every);
});
