from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kam.accounts.api import router as accounts_router
from kam.core import views as core_views
from kam.core.api import api
from kam.engagement.api import router as engagement_router
from kam.messaging.api import router as messaging_router
from kam.org.api import router as org_router
from kam.reports.api import router as reports_router
from kam.sales.api import router as sales_router

api.add_router("/", accounts_router)
api.add_router("/", org_router)
api.add_router("/", engagement_router)
api.add_router("/", messaging_router)
api.add_router("/", sales_router)
# [h4] reports router
api.add_router("/", reports_router)

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", core_views.set_language, name="set_language"),
    path("regions/options/", core_views.region_options, name="region_options"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("kam.accounts.urls")),
    path("", include("kam.engagement.urls")),
    path("", include("kam.messaging.urls")),
    path("", include("kam.sales.urls")),
    # [h1] quotas pages
    path("", include("kam.org.urls")),
    # [h4] reports pages
    path("", include("kam.reports.urls")),
]
