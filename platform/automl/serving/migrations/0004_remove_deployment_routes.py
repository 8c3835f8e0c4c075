# The JSON list of routes, now held by the Route table (0003 copied it there). Its own
# migration, so on Postgres the copy's deferred foreign-key checks run before this ALTER.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('serving', '0003_route'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='deployment',
            name='routes',
        ),
    ]
