"""The round-trip scenarios of the studio pages (issue 13): one successful request per page
operation, counted in a world of its own ("web_studio") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from review_helpers import creator, review_form, reviews_of, shoot
from web_helpers import csrf_of, recording_in, signed_in_browser

REVIEW_URL = re.compile(r'id="review-url" type="text" value="([^"]+)" readonly')


async def world(w: Any) -> None:
    """A creator with a portfolio walks every studio page: the portfolio, a shoot and an
    upload from adding to deleting, a blocked range, a review link made and withdrawn, and a
    client's review published and hidden."""
    rec, client = w.rec, w.client
    me, slug = await creator(client)
    reviewed = await shoot(client, me, brand_name="Reviewed Brand")
    async with signed_in_browser(w.app, me.email, address=("203.0.113.31", 40031)) as browser:
        with recording_in(rec, browser):
            page = await rec.call("GET", "/studio/portfolio")
            token = csrf_of(page.text)
            await rec.call(
                "POST",
                "/studio/portfolio",
                data={
                    "csrf_token": token,
                    "display_name": "Round Trip Creator",
                    "bio": "On the pages",
                    "slug": slug,
                    "photo_url": "",
                    "categories": "Fashion",
                    "languages": "en",
                    "skills": "",
                    "budget_min": "100",
                    "budget_max": "900",
                    "budget_currency": "EUR",
                    "audience": "instagram: 1000",
                    "contact_email": "",
                    "website": "",
                },
                status=303,
            )
            form = {"csrf_token": token}
            shoot_form = {
                **form,
                "date": "2027-02-10",
                "time": "10:00",
                "location": "Lisbon",
                "brand_name": "Page Brand",
                "campaign_name": "",
                "notes": "",
                "amount": "300",
                "currency": "EUR",
            }
            await rec.call("GET", "/studio/shoots")
            added = await rec.call("POST", "/studio/shoots", data=shoot_form, status=303)
            at_shoot = {"shoot_id": added.headers["location"].rsplit("/", 1)[-1]}
            await rec.call("GET", "/studio/shoots/{shoot_id}", at=at_shoot)
            await rec.call(
                "POST",
                "/studio/shoots/{shoot_id}",
                at=at_shoot,
                data={**shoot_form, "notes": "Changed"},
                status=303,
            )
            await rec.call(
                "POST", "/studio/shoots/{shoot_id}/complete", at=at_shoot, data=form, status=303
            )
            await rec.call(
                "POST", "/studio/shoots/{shoot_id}/reopen", at=at_shoot, data=form, status=303
            )
            await rec.call(
                "POST", "/studio/shoots/{shoot_id}/delete", at=at_shoot, data=form, status=303
            )

            await rec.call("GET", "/studio/uploads")
            await rec.call(
                "POST",
                "/studio/uploads",
                data={
                    **form,
                    "date": "2027-02-11",
                    "time": "",
                    "platform": "tiktok",
                    "content_type": "Short",
                    "brand_name": "Page Brand",
                    "campaign_name": "",
                    "notes": "",
                },
                status=303,
            )
            listing = await browser.get("/studio/uploads")
            upload_id = re.search(r'id="upload-([0-9a-f-]{36})"', listing.text)
            assert upload_id, listing.text[:600]
            at_upload = {"upload_id": upload_id.group(1)}
            await rec.call("GET", "/studio/uploads/{upload_id}", at=at_upload)
            await rec.call(
                "POST",
                "/studio/uploads/{upload_id}",
                at=at_upload,
                data={
                    **form,
                    "date": "2027-02-12",
                    "time": "19:00",
                    "platform": "tiktok",
                    "content_type": "Story",
                    "brand_name": "",
                    "campaign_name": "",
                    "notes": "",
                },
                status=303,
            )
            for action in ("complete", "reopen", "delete"):
                await rec.call(
                    "POST",
                    f"/studio/uploads/{{upload_id}}/{action}",
                    at=at_upload,
                    data=form,
                    status=303,
                )

            await rec.call("GET", "/studio/calendar", url="/studio/calendar?month=2027-02")
            await rec.call(
                "POST",
                "/studio/calendar/blocks",
                data={**form, "start_date": "2027-02-20", "end_date": "2027-02-22", "reason": ""},
                status=303,
            )
            grid = await browser.get("/studio/calendar?month=2027-02")
            block_id = re.search(r"/studio/calendar/blocks/([0-9a-f-]{36})/delete", grid.text)
            assert block_id, grid.text[:600]
            await rec.call(
                "POST",
                "/studio/calendar/blocks/{block_id}/delete",
                at={"block_id": block_id.group(1)},
                data=form,
                status=303,
            )

            await rec.call("GET", "/studio/reviews")
            made = await rec.call(
                "POST",
                "/studio/review-links",
                data={**form, "shoot_id": reviewed},
                status=200,
            )
            url = REVIEW_URL.search(made.text)
            assert url, made.text[:600]
            await rec.call(
                "POST",
                "/studio/review-links/{shoot_id}/revoke",
                at={"shoot_id": reviewed},
                data=form,
                status=303,
            )
        # The client reviews the shoot through a new link (not counted).
        again = await browser.post("/studio/review-links", data={**form, "shoot_id": reviewed})
        link = REVIEW_URL.search(again.text)
        assert link, again.text[:600]
        sent = await client.post(urlsplit(link.group(1)).path, data=review_form())
        assert sent.status_code == 200, sent.text[:600]
        (review,) = await reviews_of(client, me)
        with recording_in(rec, browser):
            at_review = {"review_id": review["id"]}
            await rec.call(
                "POST", "/studio/reviews/{review_id}/publish", at=at_review, data=form, status=303
            )
            await rec.call(
                "POST", "/studio/reviews/{review_id}/hide", at=at_review, data=form, status=303
            )
