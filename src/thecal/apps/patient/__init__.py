"""The patient's therapy manager: a phone-sized web app for one paired pump.

`create_app(device_dir, port)` serves the patient's handset (a PTM device
directory) on loopback: one large "Request dose" button whose answer is said in
words and an icon and announced to screen readers, a pain diary with its chart,
and the information a patient needs (alarm tones, the MRI card, refill, who to
call). Every press is planned and sent through the therapy layer; the pump's
firmware decides. A press carries a one-time id consumed before anything is
sent, so a double tap, a double submit or a reload never gives a second dose.
"""

from thecal.apps.patient.web import create_app

__all__ = ["create_app"]
