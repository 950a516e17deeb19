"""Database work the ORM does not cover: planner statistics, bulk inserts in one call, write-behind."""

import json
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from django.db import connections, router


def analyze(*models) -> None:
    """Refresh the planner's statistics of these models' tables; of every table if none are given.

    SQLite plans without statistics unless ANALYZE ran, and keeps the ones it has until it runs
    again: statistics taken when a table held 100 rows make it scan the whole table for an IN (…)
    of 50 values. PostgreSQL's autovacuum catches up by itself, but not inside a transaction that is
    still loading rows, so large loads call this as they grow (ANALYZE counts the transaction's own
    new rows on both databases). A full ANALYZE takes about 2 s on SQLite at 100,000 accounts and a
    million contacts; one table of 100,000 accounts about 0.1 s.
    """
    aliases = {router.db_for_write(model) for model in models} or {"default"}
    for alias in aliases:
        connection = connections[alias]
        tables = [connection.ops.quote_name(model._meta.db_table) for model in models]
        with connection.cursor() as cursor:
            if not tables:
                if connection.vendor == "sqlite":
                    cursor.execute("ANALYZE")  # PostgreSQL: autovacuum's statistics are kept current
                continue
            for table in tables:
                cursor.execute(f"ANALYZE {table}")


def insert_objects(model, objs: list, *, set_pks: bool = False) -> None:
    """INSERT new instances of a model in bulk, each value prepared by its field as bulk_create does.

    bulk_create is most of the cost of a large import: on SQLite it compiles a statement per 999
    parameters (28 accounts), on PostgreSQL Django's client-side binding quotes every value in
    Python. So SQLite gets one executemany, PostgreSQL a COPY (psycopg formats the rows in C).
    With set_pks the objects get their new ids: PostgreSQL's are taken from the table's sequence
    first; SQLite's are read back afterwards (from the first insert until commit this transaction
    holds the database's only write lock, so the newest ids are ours, in insertion order).
    """
    connection = connections[router.db_for_write(model)]
    if not objs:
        return
    if connection.vendor not in ("sqlite", "postgresql") or (set_pks and not connection.in_atomic_block):
        model.objects.bulk_create(objs)
        return
    meta, quote = model._meta, connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if set_pks:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, len(objs)],
                )
                _set_pks(connection, objs, [row[0] for row in cursor.fetchall()])
                fields = [meta.pk, *fields]
            columns = ", ".join(quote(f.column) for f in fields)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for obj in objs:
                    copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
            return
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) VALUES ({placeholders})"  # noqa: S608 - names from the model
        values = ([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in objs)
        while chunk := list(islice(values, 5000)):
            cursor.executemany(sql, chunk)
        if set_pks:
            cursor.execute(f"SELECT {pk} FROM {table} ORDER BY {pk} DESC LIMIT %s", [len(objs)])  # noqa: S608
            _set_pks(connection, objs, [row[0] for row in reversed(cursor.fetchall())])


def _set_pks(connection, objs: list, ids: list) -> None:
    for obj, new_id in zip(objs, ids, strict=True):
        obj.pk = new_id
        obj._state.adding, obj._state.db = False, connection.alias


class BulkInsert:
    """Many rows into one table as ONE database call, its payload built when this is made.

    One call, so that it can run on WriteBehind's thread without the GIL: SQLite inserts the rows of
    a JSON array (json_each) in a single statement, PostgreSQL takes them by COPY. (executemany
    would need the GIL back for every row, and a busy calling thread holds it for 5 ms at a time.)
    Values are str, int or None.
    """

    def __init__(self, model, columns, rows: list[tuple]):
        # The creating thread's connection: run() may be called on another thread (WriteBehind),
        # where Django would hand out a connection of that thread's own.
        self.connection = connection = connections[router.db_for_write(model)]
        quote = connection.ops.quote_name
        self.vendor = connection.vendor
        table = quote(model._meta.db_table)
        names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
        self.count = len(rows)
        if self.vendor == "postgresql":
            self.sql = f"COPY {table} ({names}) FROM STDIN"
            self.payload = "".join("\t".join(_copy_text(value) for value in row) + "\n" for row in rows)
        elif self.vendor == "sqlite":
            picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
            self.sql = f"INSERT INTO {table} ({names}) SELECT {picks} FROM json_each(?)"  # noqa: S608 - names from the model
            self.payload = json.dumps(rows, ensure_ascii=False)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            self.sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 - names from the model
            self.payload = rows

    def run(self, raw=None) -> None:
        """Insert, on `raw` (a DB-API connection) or on this thread's Django connection."""
        if not self.count:
            return
        if raw is None:
            self.connection.ensure_connection()
            raw = self.connection.connection
        with self.connection.wrap_database_errors:  # the driver's errors as Django's (IntegrityError…)
            if self.vendor == "postgresql":
                with raw.cursor() as cursor, cursor.copy(self.sql) as copy:
                    copy.write(self.payload)
            elif self.vendor == "sqlite":
                raw.execute(self.sql, (self.payload,))
            else:
                cursor = raw.cursor()
                try:
                    cursor.executemany(self.sql, self.payload)
                finally:
                    cursor.close()


def bulk_insert(model, columns, rows: list[tuple]) -> BulkInsert:
    return BulkInsert(model, columns, rows)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    return str(value).translate(_COPY_ESCAPES)


class WriteBehind:
    """Runs BulkInserts on a helper thread, on the caller's own connection and so inside the caller's
    transaction, while the caller goes on preparing its next batch (an import: reading, checking).

    Both databases serialize calls on one connection (Python's sqlite3 is "threadsafety 3", psycopg's
    connections lock), and a BulkInsert is one call that runs without the GIL, so the two threads
    overlap. One rule for the caller: nothing may roll back to a savepoint while a write runs, or it
    would take the helper's rows with it. So the caller waits (wait(), or submit(), which waits for
    the previous write) before any savepoint of its own, and leaves the `with` block (which waits)
    before its transaction ends.
    """

    def __init__(self, using: str = "default"):
        self.using = using
        self.pending = None
        self.executor = None
        self.raw = None

    def __enter__(self):
        connection = connections[self.using]
        connection.ensure_connection()
        self.raw = connection.connection
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kam-write-behind")
        return self

    def submit(self, *jobs: BulkInsert) -> None:
        """Run the jobs one after the other, after the previous submission's."""
        self.wait()
        if jobs:
            self.pending = self.executor.submit(_run_all, jobs, self.raw)

    def wait(self) -> None:
        """Until the last write is done; its error, if any, is raised here."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is None:
                self.wait()
            elif self.pending is not None:
                self.pending.exception()  # wait; the caller's own error is the one to report
                self.pending = None
        finally:
            self.executor.shutdown(wait=True)
        return False


def _run_all(jobs, raw) -> None:
    for job in jobs:
        job.run(raw)
