// The Finish screen's forecast panel, filled in once the page is shown. Progressive enhancement only: the screen, and
// sending the plan, never wait for it. The page asks /plans/TOKEN/forecast for the panel's HTML once; the server works
// it out in the background and keeps it for the plan, so a reload shows it again without waiting.

async function fill(panel) {
  const body = panel.querySelector("#forecast-body");
  if (!body) return;
  let html;
  try {
    const reply = await fetch(panel.dataset.forecastUrl, { headers: { Accept: "text/html" }, cache: "no-store" });
    const type = reply.headers.get("content-type") || "";
    // A plan gone (404) still answers with a fragment that says so; anything else (signed out, refused) does not.
    if (!type.includes("text/html") || (!reply.ok && reply.status !== 404) || reply.redirected) {
      body.textContent = "The forecast could not be fetched. The plan can be sent without it.";
    } else {
      html = await reply.text();
      body.innerHTML = html;
    }
  } catch (error) {
    body.textContent = "The forecast could not be fetched (the programmer is not reachable). The plan can be sent without it.";
  }
  panel.setAttribute("aria-busy", "false");
}

document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("forecast");
  if (panel && panel.dataset.forecastUrl) fill(panel);
});
