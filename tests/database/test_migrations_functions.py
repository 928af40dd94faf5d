"""migrations/functions.sql is the current definition of every function and trigger the migrations create.

Checked against the database migrated to head: the same functions (the project's, not the extensions') and
triggers; each function's body (`prosrc`), signature and attributes; each trigger as `pg_get_triggerdef` prints it.
All modulo whitespace. A migration that adds or redefines one must update the file, or this fails.
"""

import difflib
import re
from dataclasses import dataclass

import asyncpg

from app.paths import PROJECT_ROOT

FUNCTIONS_SQL = PROJECT_ROOT / "migrations" / "functions.sql"

_TAG = r"\$(?P<tag>(?:[A-Za-z_]\w*)?)\$"  # $$ or $name$
# Dollar-quoted text and quoted strings are matched whole, so a `--` inside a body or a string is not a comment.
_LEXEME = re.compile(rf"({_TAG}.*?\$(?P=tag)\$|'(?:[^']|'')*')|--[^\n]*", re.S)
_FUNCTION = re.compile(
    r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(?:public\.)?(?P<name>\w+)\s*\((?P<args>(?:[^()]|\([^()]*\))*)\)"
    rf"\s*RETURNS\s+(?P<head>.*?)\bAS\s+{_TAG}(?P<body>.*?)\$(?P=tag)\$(?P<tail>[^;]*);",
    re.S | re.I,
)
_ATTRIBUTE = (
    r"LANGUAGE|IMMUTABLE|STABLE|VOLATILE|STRICT|CALLED|RETURNS|EXTERNAL|SECURITY|PARALLEL|NOT|LEAKPROOF"
    r"|COST|ROWS|SUPPORT|SET|WINDOW|TRANSFORM"
)
_RETURNS = re.compile(rf"(?P<type>.+?)(?=\s+(?:{_ATTRIBUTE})\b|\s*$)(?P<attributes>.*)", re.S | re.I)
_TRIGGER = re.compile(r"CREATE\s+TRIGGER\s+(?P<name>\w+)\s[^;]*?\bON\s+(?P<table>[\w.]+)[^;]*;", re.S | re.I)

FUNCTIONS = """
SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
       l.lanname AS language, p.provolatile::text AS volatility, p.proparallel::text AS parallel,
       p.proisstrict AS strict, p.prosecdef AS security_definer, p.prosrc AS body
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = 'public'
  AND NOT EXISTS (
      SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
"""

TRIGGERS = """
SELECT format('%I.%I', n.nspname, c.relname) AS "table", t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname = 'public'
  AND NOT EXISTS (
      SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
"""

VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}
PARALLEL = {"s": "SAFE", "r": "RESTRICTED", "u": "UNSAFE"}


def _normalise(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class FileFunction:
    name: str
    args: str
    returns: str
    attributes: str
    body: str


@dataclass(frozen=True)
class FileTrigger:
    table: str
    name: str
    definition: str


def _parse() -> tuple[list[FileFunction], list[FileTrigger], str]:
    """The file's functions and triggers, and whatever else is left of it once comments are dropped."""
    text = _LEXEME.sub(lambda m: m[1] or "", FUNCTIONS_SQL.read_text(encoding="utf-8"))
    functions = []
    for m in _FUNCTION.finditer(text):
        returns = _RETURNS.fullmatch(m["head"])
        assert returns, f"{m['name']}: no return type in {m['head']!r}"
        attributes = f"{returns['attributes']} {m['tail']}"
        functions.append(FileFunction(m["name"], m["args"], returns["type"], attributes, m["body"]))
    text = _FUNCTION.sub("", text)
    triggers = []
    for m in _TRIGGER.finditer(text):
        table = m["table"] if "." in m["table"] else f"public.{m['table']}"
        triggers.append(FileTrigger(table, m["name"], m[0].removesuffix(";")))
    return functions, triggers, _TRIGGER.sub("", text)


async def _type_name(conn: asyncpg.Connection, text: str) -> str | None:
    """The database's name for the type TEXT names (`varchar(6)` → `character varying`), None if it names none."""
    try:
        async with conn.transaction():  # a savepoint: a name that does not parse must not abort the test's transaction
            name: str | None = await conn.fetchval("SELECT format_type(to_regtype($1), NULL)", text)
            return name
    except asyncpg.PostgresError:
        return None


async def _identity_arguments(conn: asyncpg.Connection, args: str) -> str:
    """ARGS as pg_get_function_identity_arguments prints them: no defaults, no OUT arguments, IN implied."""
    printed = []
    for arg in re.split(r",(?![^()]*\))", args):
        words = re.split(r"\s+(?:DEFAULT\b|=)", arg, maxsplit=1, flags=re.I)[0].split()
        mode = words.pop(0).upper() if words and words[0].upper() in {"IN", "OUT", "INOUT", "VARIADIC"} else "IN"
        if not words or mode == "OUT":
            continue
        # `name type` or just `type`; a type may be several words (`double precision`), a name never is.
        type_name = await _type_name(conn, " ".join(words))
        if type_name is None and len(words) > 1:
            type_name = f"{words[0]} {await _type_name(conn, ' '.join(words[1:])) or ' '.join(words[1:])}"
        printed.append(" ".join([*([mode] if mode != "IN" else []), type_name or " ".join(words)]))
    return ", ".join(printed)


async def _result(conn: asyncpg.Connection, returns: str) -> str:
    """RETURNS as pg_get_function_result prints it (a TABLE (...) result is left as written)."""
    m = re.fullmatch(r"(SETOF\s+)?(.+)", returns.strip(), re.S | re.I)
    assert m
    type_name = await _type_name(conn, m[2]) or _normalise(m[2])
    return f"SETOF {type_name}" if m[1] else type_name


def _attributes(text: str) -> str:
    language = re.search(r"\bLANGUAGE\s+'?(\w+)", text, re.I)
    volatility = re.search(r"\b(IMMUTABLE|STABLE|VOLATILE)\b", text, re.I)
    parallel = re.search(r"\bPARALLEL\s+(SAFE|RESTRICTED|UNSAFE)\b", text, re.I)
    strict = re.search(r"\bSTRICT\b|\bRETURNS\s+NULL\s+ON\s+NULL\s+INPUT\b", text, re.I)
    definer = re.search(r"\bSECURITY\s+DEFINER\b", text, re.I)
    return _describe(
        language[1].lower() if language else "?",
        volatility[1].upper() if volatility else "VOLATILE",
        parallel[1].upper() if parallel else "UNSAFE",
        strict=strict is not None,
        definer=definer is not None,
    )


def _describe(language: str, volatility: str, parallel: str, *, strict: bool, definer: bool) -> str:
    """A function's attributes, defaults spelt out, in one order: what functions.sql and the database must agree on."""
    words = [f"LANGUAGE {language}", volatility, f"PARALLEL {parallel}"]
    return " ".join(words + ["STRICT"] * strict + ["SECURITY DEFINER"] * definer)


def _diff(what: str, in_file: str, in_database: str) -> str:
    lines = difflib.unified_diff(
        [line.strip() for line in in_file.strip().splitlines()],
        [line.strip() for line in in_database.strip().splitlines()],
        "functions.sql",
        "database",
        lineterm="",
    )
    return f"{what} differs:\n" + "\n".join(lines)


def test_functions_sql_holds_only_functions_and_triggers_once_each() -> None:
    functions, triggers, rest = _parse()
    assert not rest.strip(), f"functions.sql has statements the test cannot read: {rest.strip()[:500]}"
    assert functions and triggers
    names = [(f.name, _normalise(f.args).lower()) for f in functions]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    keys = [(t.table, t.name) for t in triggers]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


async def test_functions_sql_has_every_function_and_trigger_of_the_database(conn: asyncpg.Connection) -> None:
    functions, triggers, _ = _parse()
    in_file = {(f.name, await _identity_arguments(conn, f.args)) for f in functions}
    in_database = {(r["name"], r["args"]) for r in await conn.fetch(FUNCTIONS)}
    assert sorted(in_database - in_file) == [], "functions in the database but not in functions.sql"
    assert sorted(in_file - in_database) == [], "functions in functions.sql but not in the database"

    triggers_in_file = {(t.table, t.name) for t in triggers}
    triggers_in_database = {(r["table"], r["name"]) for r in await conn.fetch(TRIGGERS)}
    assert sorted(triggers_in_database - triggers_in_file) == [], "triggers in the database but not in functions.sql"
    assert sorted(triggers_in_file - triggers_in_database) == [], "triggers in functions.sql but not in the database"


async def test_each_function_is_defined_as_in_the_database(conn: asyncpg.Connection) -> None:
    functions, _, _ = _parse()
    database = {(r["name"], r["args"]): r for r in await conn.fetch(FUNCTIONS)}
    differences = []
    for f in functions:
        row = database.get((f.name, await _identity_arguments(conn, f.args)))
        if row is None:
            continue  # reported by test_functions_sql_has_every_function_and_trigger_of_the_database
        signature = f"{f.name}({row['args']})"
        result = await _result(conn, f.returns)
        if result != row["result"]:
            differences.append(f"{signature}: returns {result} in functions.sql, {row['result']} in the database")
        attributes = _attributes(f.attributes)
        expected = _describe(
            row["language"],
            VOLATILITY[row["volatility"]],
            PARALLEL[row["parallel"]],
            strict=row["strict"],
            definer=row["security_definer"],
        )
        if attributes != expected:
            differences.append(f"{signature}: {attributes} in functions.sql, {expected} in the database")
        if _normalise(f.body) != _normalise(row["body"]):
            differences.append(_diff(f"{signature}: the body", f.body, row["body"]))
    assert not differences, "\n\n".join(differences)


async def test_each_trigger_is_defined_as_in_the_database(conn: asyncpg.Connection) -> None:
    _, triggers, _ = _parse()
    database = {(r["table"], r["name"]): r["definition"] for r in await conn.fetch(TRIGGERS)}
    differences = []
    for t in triggers:
        in_database = database.get((t.table, t.name))
        if in_database is not None and _normalise(t.definition) != _normalise(in_database):
            differences.append(
                f"trigger {t.name} on {t.table} differs:\n"
                f"  functions.sql: {_normalise(t.definition)}\n  database:      {_normalise(in_database)}"
            )
    assert not differences, "\n\n".join(differences)
