"""IVM jobs through the API: what a request asks of an IVM (a plan's validation, a revision validated first) is
stored as a job and answered ``202 Accepted`` at once, with the job's address in ``Location``; the engine's workers
run it (``mobility.jobs``) and the caller polls ``GET /api/v1/jobs/<id>/``. A job is seen only by the person who
asked for it (``policy.jobs``): anybody else gets 404, as for an unknown id."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import policy
from mobility.api import serializers as s
from mobility.api.common import ERRORS, visible
from mobility.models import IVMJob

# A hint for pollers (Retry-After on 202 and on a job that has not finished): IVM answers in seconds.
POLL_AFTER_S = 1

ACCEPTED = OpenApiResponse(s.JobSerializer, description=(
    "Accepted: IVM is asked by a worker, not within this request. ``Location`` is the job's address; poll it until "
    "``finished`` (``Retry-After`` suggests when)."))


# Response headers, for the schema: where the job is, and when to look again.
ACCEPTED_HEADERS = [
    OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                     description="The job's address (/api/v1/jobs/<id>/)"),
    OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=[202],
                     description="Seconds to wait before the first poll"),
]


def accepted(job: IVMJob) -> Response:
    """The 202 answer of a request that queued a job."""
    url = f"/api/v1/jobs/{job.pk}/"
    return Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": url, "Retry-After": str(POLL_AFTER_S)})


@extend_schema(tags=["jobs"], responses={200: s.JobSerializer, **ERRORS}, parameters=[
    OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=[200],
                     description="While the job has not finished: seconds to wait before polling again")])
class JobDetail(APIView):
    """One of the caller's IVM jobs: its status, progress line and, once finished, its result or error."""

    def get(self, request, pk):
        job = visible(policy.jobs(request.user), pk, "job")
        headers = {} if job.finished else {"Retry-After": str(POLL_AFTER_S)}
        return Response(s.JobSerializer(job).data, headers=headers)
