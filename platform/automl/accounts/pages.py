"""Sign in and out of the browser UI for every active user, not only staff (the admin's
login page admits staff only)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("job-pages")


class LogoutView(auth_views.LogoutView):
    # Django's LogoutView takes POST only, so a link or a prefetch cannot sign anyone out.
    next_page = reverse_lazy("login")


page_urls = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
]
