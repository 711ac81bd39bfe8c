"""The BI tool reads the report tables through its own read-only role.

Roles belong to the whole PostgreSQL cluster, not to one database: the role
may already exist (made for another database of the cluster), and several
databases may be migrated at once, hence the tolerant CREATE.
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    CREATE ROLE bi_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
GRANT SELECT ON reports_dailysales TO bi_reader;
"""

REVOKE = "REVOKE SELECT ON reports_dailysales FROM bi_reader;"


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, REVOKE)]
