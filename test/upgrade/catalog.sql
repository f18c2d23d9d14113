-- The catalog of the mlpscale extension as text, one "object | attribute = value" row per
-- property, without OIDs, for comparing two databases (test/upgrade/upgrade_test.sh sorts
-- the rows and diffs an upgraded database against a fresh install).  It covers every member
-- object of the extension (pg_depend deptype 'e') and what hangs off the member tables:
-- columns, constraints, indexes, triggers, rules, policies, sequences' owners, comments, ACLs
-- (sorted, NULL shown as the default it means) and the initial privileges pg_dump uses.
-- Column positions are left out: ALTER TABLE ADD COLUMN can only append (the test reports
-- them as a note).
\set ON_ERROR_STOP 1
SET search_path = pg_catalog;        -- every name in the output schema-qualified

CREATE FUNCTION pg_temp.acl(a aclitem[]) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(string_agg(x::text, ',' ORDER BY x::text), '') FROM unnest(a) x $$;
CREATE FUNCTION pg_temp.txt(t text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT replace(replace(coalesce(t, '<null>'), E'\\', E'\\\\'), E'\n', E'\\n') $$;

WITH ext AS (
    SELECT * FROM pg_extension WHERE extname = 'mlpscale'
), mem AS (
    SELECT d.classid, d.objid
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
    SELECT c.*, c.oid AS reloid,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                          WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                          WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
                          ELSE 'relation ' || c.relkind::text END || ' ' || c.oid::regclass::text AS obj
      FROM pg_class c JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid
), fn AS (
    SELECT p.*, p.oid AS fnoid, 'function ' || p.oid::regprocedure::text AS obj
      FROM pg_proc p JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid
), typ AS (
    SELECT t.*, t.oid AS typoid, 'type ' || t.oid::regtype::text AS obj
      FROM pg_type t JOIN mem ON mem.classid = 'pg_type'::regclass AND mem.objid = t.oid
), rows(obj, attr, val) AS (
    -- the extension itself
    SELECT 'extension mlpscale', 'version', extversion FROM ext
    UNION ALL SELECT 'extension mlpscale', 'schema', extnamespace::regnamespace::text FROM ext
    UNION ALL SELECT 'extension mlpscale', 'relocatable', extrelocatable::text FROM ext
    UNION ALL SELECT 'extension mlpscale', 'owner', pg_get_userbyid(extowner) FROM ext
    UNION ALL SELECT 'extension mlpscale', 'comment', pg_temp.txt(obj_description(ext.oid, 'pg_extension')) FROM ext
    UNION ALL
    SELECT 'extension mlpscale', 'config dump', c.cfg::regclass::text || ' where ' || quote_literal(c.cond)
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS c(cfg, cond)
    -- every member, whatever its kind
    UNION ALL SELECT 'extension mlpscale', 'member', pg_describe_object(classid, objid, 0) FROM mem
    -- schemas
    UNION ALL
    SELECT 'schema ' || n.nspname, a.attr, a.val
      FROM pg_namespace n JOIN mem ON mem.classid = 'pg_namespace'::regclass AND mem.objid = n.oid,
           LATERAL (VALUES ('owner', pg_get_userbyid(n.nspowner)),
                           ('acl', pg_temp.acl(coalesce(n.nspacl, acldefault('n', n.nspowner)))),
                           ('comment', pg_temp.txt(obj_description(n.oid, 'pg_namespace')))) a(attr, val)
    -- functions and procedures
    UNION ALL
    SELECT fn.obj, a.attr, a.val
      FROM fn JOIN pg_language l ON l.oid = fn.prolang,
           LATERAL (VALUES ('kind', fn.prokind::text),
                           ('arguments', pg_get_function_arguments(fn.fnoid)),
                           ('result', pg_temp.txt(pg_get_function_result(fn.fnoid))),
                           ('language', l.lanname::text),
                           ('volatility', fn.provolatile::text),
                           ('strict', fn.proisstrict::text),
                           ('parallel', fn.proparallel::text),
                           ('security definer', fn.prosecdef::text),
                           ('leakproof', fn.proleakproof::text),
                           ('config', pg_temp.txt(fn.proconfig::text)),
                           ('cost', fn.procost::text),
                           ('rows', fn.prorows::text),
                           ('support', fn.prosupport::regproc::text),
                           ('library', pg_temp.txt(fn.probin)),
                           ('source', pg_temp.txt(fn.prosrc)),
                           ('owner', pg_get_userbyid(fn.proowner)),
                           ('acl', pg_temp.acl(coalesce(fn.proacl, acldefault('f', fn.proowner)))),
                           ('comment', pg_temp.txt(obj_description(fn.fnoid, 'pg_proc')))) a(attr, val)
    UNION ALL
    SELECT fn.obj, 'aggregate', pg_temp.txt(row(ag.aggkind, ag.aggnumdirectargs, ag.aggtransfn::regproc,
               ag.aggfinalfn::regproc, ag.aggcombinefn::regproc, ag.aggtranstype::regtype,
               ag.agginitval, ag.aggsortop::regoperator)::text)
      FROM fn JOIN pg_aggregate ag ON ag.aggfnoid = fn.fnoid
    -- relations: tables, views, sequences, ...
    UNION ALL
    SELECT rel.obj, a.attr, a.val
      FROM rel LEFT JOIN pg_class toast ON toast.oid = rel.reltoastrelid,
           LATERAL (VALUES ('owner', pg_get_userbyid(rel.relowner)),
                           ('persistence', rel.relpersistence::text),
                           ('options', pg_temp.txt(rel.reloptions::text)),
                           ('toast options', pg_temp.txt(toast.reloptions::text)),
                           ('has toast table', (toast.oid IS NOT NULL)::text),
                           ('row level security', rel.relrowsecurity::text),
                           ('force row level security', rel.relforcerowsecurity::text),
                           ('replica identity', rel.relreplident::text),
                           ('access method', coalesce((SELECT amname::text FROM pg_am WHERE oid = rel.relam), '')),
                           ('partition key', pg_temp.txt(CASE WHEN rel.relkind = 'p' THEN pg_get_partkeydef(rel.reloid) END)),
                           ('acl', pg_temp.acl(coalesce(rel.relacl, acldefault(CASE WHEN rel.relkind = 'S' THEN 's' ELSE 'r' END::"char", rel.relowner)))),
                           ('comment', pg_temp.txt(obj_description(rel.reloid, 'pg_class')))) a(attr, val)
    UNION ALL
    SELECT rel.obj, 'definition', pg_temp.txt(pg_get_viewdef(rel.reloid, true))
      FROM rel WHERE rel.relkind IN ('v', 'm')
    -- columns, compared by name: their positions are a note of the test, not a difference
    UNION ALL
    SELECT rel.obj || ' column ' || quote_ident(att.attname), a.attr, a.val
      FROM rel JOIN pg_attribute att ON att.attrelid = rel.reloid AND att.attnum > 0 AND NOT att.attisdropped
           JOIN pg_type t ON t.oid = att.atttypid
           LEFT JOIN pg_attrdef def ON def.adrelid = att.attrelid AND def.adnum = att.attnum,
           LATERAL (VALUES ('type', format_type(att.atttypid, att.atttypmod)),
                           ('not null', att.attnotnull::text),
                           ('default', pg_temp.txt(pg_get_expr(def.adbin, def.adrelid))),
                           ('identity', att.attidentity::text),
                           ('generated', att.attgenerated::text),
                           ('collation', coalesce((SELECT quote_ident(collname) FROM pg_collation WHERE oid = att.attcollation AND att.attcollation <> t.typcollation), 'default')),
                           ('storage', att.attstorage::text || CASE WHEN att.attstorage = t.typstorage THEN ' (type default)' ELSE '' END),
                           ('compression', att.attcompression::text),
                           ('statistics target', att.attstattarget::text),
                           -- this server's build keeps a per-database pg_attver=N there: not a setting
                           ('options', pg_temp.txt((SELECT string_agg(o, ',' ORDER BY o) FROM unnest(att.attoptions) o
                                                     WHERE o NOT LIKE 'pg\_attver=%'))),
                           ('acl', pg_temp.acl(att.attacl)),
                           ('comment', pg_temp.txt(col_description(att.attrelid, att.attnum)))) a(attr, val)
     WHERE rel.relkind <> 'S'
    -- constraints (with their definitions, which name the columns), indexes, triggers, rules
    UNION ALL
    SELECT rel.obj || ' constraint ' || quote_ident(con.conname), a.attr, a.val
      FROM rel JOIN pg_constraint con ON con.conrelid = rel.reloid,
           LATERAL (VALUES ('definition', pg_get_constraintdef(con.oid)),
                           ('local', con.conislocal::text),
                           ('comment', pg_temp.txt(obj_description(con.oid, 'pg_constraint')))) a(attr, val)
    UNION ALL
    SELECT rel.obj || ' index ' || quote_ident(ic.relname), a.attr, a.val
      FROM rel JOIN pg_index i ON i.indrelid = rel.reloid JOIN pg_class ic ON ic.oid = i.indexrelid,
           LATERAL (VALUES ('definition', pg_get_indexdef(i.indexrelid)),
                           ('clustered', i.indisclustered::text),
                           ('replica identity', i.indisreplident::text),
                           ('valid', i.indisvalid::text),
                           ('comment', pg_temp.txt(obj_description(ic.oid, 'pg_class')))) a(attr, val)
    UNION ALL
    SELECT rel.obj || ' trigger ' || quote_ident(tg.tgname), a.attr, a.val
      FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.reloid AND NOT tg.tgisinternal,
           LATERAL (VALUES ('definition', pg_get_triggerdef(tg.oid)),
                           ('enabled', tg.tgenabled::text),
                           ('comment', pg_temp.txt(obj_description(tg.oid, 'pg_trigger')))) a(attr, val)
    UNION ALL
    SELECT rel.obj || ' rule ' || quote_ident(ru.rulename), 'definition', pg_temp.txt(pg_get_ruledef(ru.oid))
      FROM rel JOIN pg_rewrite ru ON ru.ev_class = rel.reloid AND ru.rulename <> '_RETURN'
    -- row-level security policies
    UNION ALL
    SELECT 'table ' || quote_ident(p.schemaname) || '.' || quote_ident(p.tablename) || ' policy ' || quote_ident(p.policyname),
           a.attr, a.val
      FROM pg_policies p
      JOIN rel ON rel.relnamespace = p.schemaname::text::regnamespace AND rel.relname = p.tablename
      JOIN pg_policy po ON po.polrelid = rel.reloid AND po.polname = p.policyname,
           LATERAL (VALUES ('permissive', p.permissive),
                           ('roles', (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM unnest(p.roles) r)),
                           ('command', p.cmd),
                           ('using', pg_temp.txt(p.qual)),
                           ('with check', pg_temp.txt(p.with_check)),
                           ('comment', pg_temp.txt(obj_description(po.oid, 'pg_policy')))) a(attr, val)
    -- sequences
    UNION ALL
    SELECT rel.obj, a.attr, a.val
      FROM rel JOIN pg_sequence s ON s.seqrelid = rel.reloid,
           LATERAL (VALUES ('data type', s.seqtypid::regtype::text),
                           ('start', s.seqstart::text), ('increment', s.seqincrement::text),
                           ('min', s.seqmin::text), ('max', s.seqmax::text),
                           ('cache', s.seqcache::text), ('cycle', s.seqcycle::text),
                           ('owned by', coalesce((SELECT d.refobjid::regclass::text || '.' || quote_ident(att.attname)
                                                    FROM pg_depend d JOIN pg_attribute att
                                                      ON att.attrelid = d.refobjid AND att.attnum = d.refobjsubid
                                                   WHERE d.classid = 'pg_class'::regclass AND d.objid = rel.reloid
                                                     AND d.refclassid = 'pg_class'::regclass
                                                     AND d.deptype IN ('a', 'i')), ''))) a(attr, val)
    -- types
    UNION ALL
    SELECT typ.obj, a.attr, a.val
      FROM typ,
           LATERAL (VALUES ('kind', typ.typtype::text), ('length', typ.typlen::text),
                           ('by value', typ.typbyval::text), ('category', typ.typcategory::text),
                           ('preferred', typ.typispreferred::text), ('delimiter', typ.typdelim::text),
                           ('input', typ.typinput::regproc::text), ('output', typ.typoutput::regproc::text),
                           ('receive', typ.typreceive::regproc::text), ('send', typ.typsend::regproc::text),
                           ('typmod in', typ.typmodin::regproc::text), ('typmod out', typ.typmodout::regproc::text),
                           ('analyze', typ.typanalyze::regproc::text), ('subscript', typ.typsubscript::regproc::text),
                           ('alignment', typ.typalign::text), ('storage', typ.typstorage::text),
                           ('element', typ.typelem::regtype::text), ('array type', typ.typarray::regtype::text),
                           ('base type', typ.typbasetype::regtype::text), ('not null', typ.typnotnull::text),
                           ('default', pg_temp.txt(typ.typdefault)),
                           ('collation', typ.typcollation::regcollation::text),
                           ('enum labels', coalesce((SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
                                                       FROM pg_enum e WHERE e.enumtypid = typ.typoid), '')),
                           ('owner', pg_get_userbyid(typ.typowner)),
                           ('acl', pg_temp.acl(coalesce(typ.typacl, acldefault('T', typ.typowner)))),
                           ('comment', pg_temp.txt(obj_description(typ.typoid, 'pg_type')))) a(attr, val)
    UNION ALL
    SELECT typ.obj || ' constraint ' || quote_ident(con.conname), 'definition', pg_get_constraintdef(con.oid)
      FROM typ JOIN pg_constraint con ON con.contypid = typ.typoid
    -- operators
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator::text, a.attr, a.val
      FROM pg_operator o JOIN mem ON mem.classid = 'pg_operator'::regclass AND mem.objid = o.oid,
           LATERAL (VALUES ('kind', o.oprkind::text), ('result', o.oprresult::regtype::text),
                           ('function', o.oprcode::regproc::text),
                           ('commutator', o.oprcom::regoperator::text), ('negator', o.oprnegate::regoperator::text),
                           ('restrict', o.oprrest::regproc::text), ('join', o.oprjoin::regproc::text),
                           ('merges', o.oprcanmerge::text), ('hashes', o.oprcanhash::text),
                           ('owner', pg_get_userbyid(o.oprowner)),
                           ('comment', pg_temp.txt(obj_description(o.oid, 'pg_operator')))) a(attr, val)
    -- casts
    UNION ALL
    SELECT 'cast (' || ca.castsource::regtype::text || ' as ' || ca.casttarget::regtype::text || ')', a.attr, a.val
      FROM pg_cast ca JOIN mem ON mem.classid = 'pg_cast'::regclass AND mem.objid = ca.oid,
           LATERAL (VALUES ('function', ca.castfunc::regprocedure::text), ('context', ca.castcontext::text),
                           ('method', ca.castmethod::text)) a(attr, val)
    -- comments of any other member (operator classes, ...)
    UNION ALL
    SELECT 'member ' || pg_describe_object(mem.classid, mem.objid, 0), 'comment', pg_temp.txt(d.description)
      FROM mem JOIN pg_description d ON d.classoid = mem.classid AND d.objoid = mem.objid AND d.objsubid = 0
     WHERE mem.classid NOT IN ('pg_namespace'::regclass, 'pg_proc'::regclass, 'pg_class'::regclass,
                               'pg_type'::regclass, 'pg_operator'::regclass)
    -- the initial privileges that pg_dump starts from (objects made by the extension script)
    UNION ALL
    SELECT 'initial privileges', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
           ip.privtype::text || ' ' || pg_temp.acl(ip.initprivs)
      FROM pg_init_privs ip
     WHERE EXISTS (SELECT 1 FROM mem WHERE mem.classid = ip.classoid AND mem.objid = ip.objoid)
)
SELECT obj || ' | ' || attr || ' = ' || val FROM rows;
