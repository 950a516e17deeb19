"""SearchTerm keyed by (kind, term, object_id) instead of a surrogate id.

Django cannot change a table's primary key to a composite one in place, so the terms move to a new
table: the old one is renamed, the new one created, the terms copied (an object's terms are a set,
so they are unique already; DISTINCT makes sure), and the old table dropped.
"""

from django.db import migrations, models


def _copy(apps, schema_editor, source: str, target: str) -> None:
    quote = schema_editor.connection.ops.quote_name
    source = quote(apps.get_model("accounts", source)._meta.db_table)
    target = quote(apps.get_model("accounts", target)._meta.db_table)
    schema_editor.execute(
        f"INSERT INTO {target} (kind, term, object_id) SELECT DISTINCT kind, term, object_id FROM {source}"  # noqa: S608 - table names from the models
    )


def copy_terms(apps, schema_editor):
    _copy(apps, schema_editor, "OldSearchTerm", "SearchTerm")


def copy_terms_back(apps, schema_editor):
    _copy(apps, schema_editor, "SearchTerm", "OldSearchTerm")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_list_filter_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="searchterm", name="searchterm_lookup"),
        migrations.RemoveIndex(model_name="searchterm", name="searchterm_owner"),
        migrations.RenameModel("SearchTerm", "OldSearchTerm"),
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "kind", "term", "object_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("kind", models.CharField(max_length=1)),
                ("object_id", models.BigIntegerField()),
                ("term", models.CharField(max_length=64)),
            ],
            options={"indexes": [models.Index(fields=["kind", "object_id"], name="searchterm_by_object")]},
        ),
        migrations.RunPython(copy_terms, copy_terms_back),
        migrations.DeleteModel("OldSearchTerm"),
    ]
