"""Routes of batches: evacuate a server, pick partitions, the live batch page and its actions, the list and export."""

from django.urls import path

from mobility.views import batch_rehearsal, batches

urlpatterns = [
    path("batches/", batches.batch_list, name="batches"),
    path("batches/export.csv", batches.export, name="batches_export"),
    path("batches/pick/", batches.pick, name="batch_pick"),
    path("systems/<int:system_pk>/evacuate/", batches.evacuate, name="evacuate"),
    path("batches/<int:pk>/", batches.batch_page, name="batch"),
    path("batches/<int:pk>/vote/", batches.vote, name="batch_vote"),
    path("batches/<int:pk>/pause/", batches.pause, name="batch_pause"),
    path("batches/<int:pk>/resume/", batches.resume, name="batch_resume"),
    path("batches/<int:pk>/stop/", batches.stop, name="batch_stop"),
    path("batches/<int:pk>/withdraw/", batches.withdraw, name="batch_withdraw"),
    path("batches/<int:pk>/members/<int:member_pk>/", batches.member, name="batch_member"),
    path("batches/<int:pk>/members/<int:member_pk>/order/", batches.reorder, name="batch_reorder"),
    path("batches/<int:pk>/move-back/", batches.move_back, name="batch_move_back"),
    path("batches/<int:pk>/rehearse/", batch_rehearsal.start, name="batch_rehearse"),
    path("batches/<int:pk>/rehearsal/", batch_rehearsal.result, name="batch_rehearsal"),
]
