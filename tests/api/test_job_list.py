"""`GET /kbs/{kb}/jobs`: a knowledge base's recent jobs, newest first, each summed up as
the single-job route sums it up (with `progress`), without every file's outcome."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api.models import JobOut, JobSummaryOut
from qa_service.embedding import Embedder
from qa_service.schemas import JOB_SUMMARY_FILENAMES, JobState
from tests.api.helpers import assert_error, bearer, create_kb, ingest, running_app
from tests.pdfs import text_pdf

KB = "reports"
PROGRESS = {"files_done", "files_total", "pages_parsed", "chunks_embedded", "ocr_pages"}


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]  # job name -> job id, in the order the jobs were created
    keys: dict[str, str]  # key name -> the key

    def jobs(self, query: str = "", key: str | None = None) -> Any:
        headers = bearer(self.keys[key]) if key else None
        return self.client.get(f"/kbs/{KB}/jobs{query}", headers=headers)

    def listed(self, query: str = "") -> list[dict[str, Any]]:
        response = self.jobs(query)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"jobs"}
        return response.json()["jobs"]  # type: ignore[no-any-return]

    def newest_first(self, *names: str) -> list[str]:
        return [self.ids[name] for name in reversed(self.ids) if name in names]


def _queue_directly(client: TestClient, count: int) -> str:
    """A job that the runner was never given: it stays queued (the runner resumes jobs only
    at start-up), as a job waiting behind a long one would."""
    kb = client.app.state.services.registry.open(KB)  # type: ignore[attr-defined]
    job_id = uuid.uuid4().hex
    kb.catalog.create_job(job_id, [(f"waiting-{i:02d}.pdf", f"/nowhere/{i}.pdf", None)
                                   for i in range(count)])
    return job_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          shared_models: None) -> Iterator[World]:
    """Three finished jobs (one with an invalid file), then one left queued with more files
    than a summary names and one marked failed."""
    data = tmp_path_factory.mktemp("jobs") / "data"
    with running_app(data, embedder, limits={"uploads_per_minute": 0}) as client:
        create_kb(client, KB)
        create_kb(client, "other")
        ids = {}
        ids["first"] = ingest(client, KB, [("alpha.pdf", text_pdf(["Alpha report. " * 20]))]
                              )["job_id"]
        ids["mixed"] = ingest(client, KB, [
            ("beta.pdf", text_pdf(["Beta report page one. " * 20, "Beta page two. " * 20])),
            ("notes.txt", b"not a PDF at all")])["job_id"]
        ids["third"] = ingest(client, KB, [("gamma.pdf", text_pdf(["Gamma. " * 30]))]
                              )["job_id"]
        ids["queued"] = _queue_directly(client, JOB_SUMMARY_FILENAMES + 2)
        ids["failed"] = _queue_directly(client, 1)
        kb = client.app.state.services.registry.open(KB)  # type: ignore[attr-defined]
        kb.catalog.set_job_state(ids["failed"], JobState.FAILED, "the disk is full")
        keys = {}
        for name, kbs in (("reader", [KB]), ("outsider", ["other"])):
            response = client.post("/keys", json={"kbs": kbs, "scope": "read"})
            assert response.status_code == 201, response.text
            keys[name] = response.json()["key"]
        yield World(client, ids, keys)


def test_jobs_are_listed_newest_first(world: World) -> None:
    listed = world.listed()
    assert [job["job_id"] for job in listed] == world.newest_first(*world.ids)
    assert [job["state"] for job in listed] == ["failed", "queued", "done", "done", "done"]


def test_limit_keeps_the_newest(world: World) -> None:
    assert [j["job_id"] for j in world.listed("?limit=2")] == world.newest_first("failed",
                                                                                 "queued")
    assert [j["job_id"] for j in world.listed("?limit=1&state=done")] == [world.ids["third"]]
    assert len(world.listed("?limit=200")) == len(world.ids)
    for bad in ("0", "201", "-1", "many"):
        error = assert_error(world.jobs(f"?limit={bad}"), 422, "validation_error")
        assert "limit" in error["message"]


def test_the_state_filter(world: World) -> None:
    assert [j["job_id"] for j in world.listed("?state=done")] == world.newest_first(
        "first", "mixed", "third")
    assert [j["job_id"] for j in world.listed("?state=queued")] == [world.ids["queued"]]
    assert [j["job_id"] for j in world.listed("?state=failed")] == [world.ids["failed"]]
    assert world.listed("?state=running") == []
    error = assert_error(world.jobs("?state=finished"), 422, "validation_error")
    assert "state" in error["message"]


def test_each_item_is_the_single_job_route_s_summary(world: World) -> None:
    for item in world.listed():
        assert set(item) == set(JobSummaryOut.model_fields)
        single = world.client.get(f"/kbs/{KB}/jobs/{item['job_id']}").json()
        assert set(single) == set(JobOut.model_fields) == set(item) | {"files"}
        assert {k: v for k, v in single.items() if k != "files"} == item


def test_a_finished_job_s_progress(world: World) -> None:
    (mixed,) = [j for j in world.listed() if j["job_id"] == world.ids["mixed"]]
    progress = mixed["progress"]
    assert set(progress) == PROGRESS
    assert progress["files_done"] == progress["files_total"] == 2
    assert progress["pages_parsed"] >= 2 and progress["chunks_embedded"] > 0
    assert progress["ocr_pages"] == 0
    assert {k: mixed[k] for k in PROGRESS - {"ocr_pages"}} == {
        k: progress[k] for k in PROGRESS - {"ocr_pages"}}  # the older flat fields agree
    assert mixed["files_by_status"] == {"indexed": 1, "invalid": 1}
    assert mixed["filenames"] == ["beta.pdf", "notes.txt"]
    assert mixed["finished_at"] == mixed["updated_at"] and mixed["error"] == ""
    single = world.client.get(f"/kbs/{KB}/jobs/{world.ids['mixed']}").json()
    assert progress["chunks_embedded"] == sum(f["chunks"] for f in single["files"])


def test_a_waiting_job_s_summary(world: World) -> None:
    (queued,) = world.listed("?state=queued")
    assert queued["progress"] == {"files_done": 0, "files_total": JOB_SUMMARY_FILENAMES + 2,
                                  "pages_parsed": 0, "chunks_embedded": 0, "ocr_pages": 0}
    assert queued["files_by_status"] == {"queued": JOB_SUMMARY_FILENAMES + 2}
    assert queued["filenames"] == [f"waiting-{i:02d}.pdf" for i in range(JOB_SUMMARY_FILENAMES)]
    assert queued["finished_at"] is None
    (failed,) = world.listed("?state=failed")
    assert failed["error"] == "the disk is full" and failed["finished_at"] is not None


def test_a_read_key_of_the_knowledge_base_lists_its_jobs(world: World) -> None:
    response = world.jobs(key="reader")
    assert response.status_code == 200, response.text
    assert [j["job_id"] for j in response.json()["jobs"]] == world.newest_first(*world.ids)


def test_another_key_gets_what_the_single_job_route_gives(world: World) -> None:
    job = world.ids["first"]
    listed = world.jobs(key="outsider")
    single = world.client.get(f"/kbs/{KB}/jobs/{job}",
                              headers=bearer(world.keys["outsider"]))
    assert_error(listed, 404, "kb_not_found")
    assert listed.json() == single.json()
    assert job not in listed.text
    no_key = world.client.get(f"/kbs/{KB}/jobs", headers={"Authorization": ""})
    assert_error(no_key, 401, "unauthorized")


def test_an_unknown_knowledge_base(world: World) -> None:
    listed = world.client.get("/kbs/missing/jobs")
    single = world.client.get(f"/kbs/missing/jobs/{world.ids['first']}")
    error = assert_error(listed, 404, "kb_not_found")
    assert "missing" in error["message"]
    assert listed.json() == single.json()


def test_a_knowledge_base_without_jobs_lists_none(world: World) -> None:
    assert world.client.get("/kbs/other/jobs").json() == {"jobs": []}


def test_a_job_file_and_its_document_name_the_id_alike(world: World) -> None:
    single = world.client.get(f"/kbs/{KB}/jobs/{world.ids['mixed']}").json()
    documents = world.client.get(f"/kbs/{KB}/documents").json()["documents"]
    by_name = {d["filename"]: d["document_id"] for d in documents}
    for outcome in single["files"]:
        assert outcome["document_id"] == by_name[outcome["filename"]]
