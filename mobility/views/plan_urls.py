"""Routes of the planning wizard and the plan page; included by mobility/urls.py."""

from django.urls import path

from mobility.views import plan, plan_page

urlpatterns = [
    path("plan/new/", plan.plan_new, name="plan_new"),
    path("plan/new/validate/", plan.plan_validate, name="plan_validate"),
    path("plan/new/submit/", plan.plan_submit, name="plan_submit"),
    path("migrations/<int:pk>/plan/", plan_page.plan_detail, name="plan_detail"),
    path("migrations/<int:pk>/plan/validate/", plan_page.plan_revalidate, name="plan_revalidate"),
    path("migrations/<int:pk>/plan/revise/", plan_page.plan_revise, name="plan_revise"),
    path("migrations/<int:pk>/plan/rehearse/", plan_page.plan_rehearse, name="plan_rehearse"),
]
