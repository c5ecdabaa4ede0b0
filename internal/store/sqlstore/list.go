package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/heir-emd/heir/internal/store"
)

// where collects filter clauses, joined with AND.
type where struct {
	clauses []string
	args    []any
	// count, when set, counts the matching rows more cheaply than
	// COUNT(*) over the list's table (a filter that alone decides).
	count     string
	countArgs []any
	// noHint: the filter already hands SQLite a small set of rows (the
	// text filter's rowid subquery); no count is needed to plan the page.
	noHint bool
	// windowCount: count the matches with COUNT(*) OVER () in the page's
	// own query, which reads them all anyway (a selective filter).
	windowCount bool
}

// filtered says whether any filter was added (before the cursor).
func (w *where) filtered() bool { return len(w.clauses) > 0 }

func (w *where) add(clause string, args ...any) {
	w.clauses = append(w.clauses, clause)
	w.args = append(w.args, args...)
}

// in adds "col IN (…)" when vals is not empty.
func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args...)
}

// inInts adds "col IN (…)" for numbers.
func (w *where) inInts(col string, vals []int64) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args...)
}

func (w *where) sql() string {
	if len(w.clauses) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.clauses, " AND ")
}

// sortCol is the column behind a sort key.
type sortCol struct {
	expr    string
	numeric bool
	// index is the (expr, id) index, named for SQLite's INDEXED BY.
	index string
}

// listSpec describes one list: its table, the columns a row is read
// from, its sort keys and its id column. Every sort is backed by an index
// on (column, id), which the keyset condition and ORDER BY use.
type listSpec struct {
	kind  string // for errors
	from  string
	cols  string
	id    string
	sorts map[string]sortCol
	keys  []string
	// uniqueSort: the sort column is the id itself (the audit sequence),
	// so no tie-breaker is needed.
	uniqueSort bool
}

// list runs a keyset-paged query. scan reads one row's columns (after the
// sort value and the id, which list reads itself).
func list[T any](ctx context.Context, c conn, spec listSpec, o store.ListOptions, w where,
	scan func(rows *sql.Rows, lead ...any) (T, error)) (store.Page[T], error) {
	page := store.Page[T]{Total: -1}
	srt, err := o.Sort.Resolve(spec.keys)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", spec.kind, err)
	}
	col := spec.sorts[srt.Key]
	limit := o.PageLimit()

	from := spec.from
	counted := false
	count := func(f where) (int64, error) {
		cq, cargs := "SELECT COUNT(*) FROM "+spec.from+f.sql(), f.args
		if f.count != "" {
			cq, cargs = f.count, f.countArgs
		}
		var n int64
		if err := c.row(ctx, cq, cargs...).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", spec.kind, err)
		}
		return n, nil
	}
	if c.db.d.Hints && w.filtered() && col.index != "" && !w.noHint {
		n, err := count(w)
		if err != nil {
			return page, err
		}
		if o.WithTotal {
			page.Total, counted = n, true
		}
		hint, err := sortIndexHint(ctx, c, spec, col, n, limit)
		if err != nil {
			return page, err
		}
		from += hint
	}
	// The filters alone, before the cursor narrows them, for the count
	// after the page.
	filters := w
	filters.clauses = slices.Clone(w.clauses)
	filters.args = slices.Clone(w.args)

	cmp, dir := ">", "ASC"
	if srt.Desc {
		cmp, dir = "<", "DESC"
	}
	if o.Cursor != "" {
		cur, err := store.DecodeCursor(o.Cursor, srt, col.numeric)
		if err != nil {
			return page, fmt.Errorf("list %s: %w", spec.kind, err)
		}
		var v any
		if col.numeric {
			v = *cur.Int
		} else {
			v = *cur.Text
		}
		if spec.uniqueSort {
			w.add(col.expr+" "+cmp+" ?", v)
		} else {
			w.add("("+col.expr+", "+spec.id+") "+cmp+" (?, ?)", v, cur.ID)
		}
	}
	order := col.expr + " " + dir
	if !spec.uniqueSort {
		order += ", " + spec.id + " " + dir
	}
	window := o.WithTotal && !counted && w.windowCount && o.Cursor == ""
	var total int64
	selectCols := col.expr + ", " + spec.id + ", " + spec.cols
	if window {
		selectCols = "COUNT(*) OVER (), " + selectCols
	}
	q := "SELECT " + selectCols + " FROM " + from + w.sql() +
		" ORDER BY " + order + fmt.Sprintf(" LIMIT %d", limit+1)
	rows, err := c.query(ctx, q, w.args...)
	if err != nil {
		return page, fmt.Errorf("list %s: %w", spec.kind, err)
	}
	defer rows.Close()
	var last store.Cursor
	for rows.Next() {
		if len(page.Items) == limit {
			// One row more than the page: there is a next page, which
			// starts after the last row kept.
			page.Next = last.Encode()
			break
		}
		var id string
		var num int64
		var text string
		var key any = &text
		if col.numeric {
			key = &num
		}
		lead := []any{key, &id}
		if window {
			lead = []any{&total, key, &id}
		}
		item, err := scan(rows, lead...)
		if err != nil {
			return page, fmt.Errorf("list %s: %w", spec.kind, err)
		}
		page.Items = append(page.Items, item)
		last = store.Cursor{Sort: srt.String(), ID: id}
		if col.numeric {
			last.Int = &num
		} else {
			last.Text = &text
		}
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list %s: %w", spec.kind, err)
	}
	// The page is read: give its connection back before counting, which
	// takes another one. Holding the first while waiting for the second
	// deadlocks a small pool once as many lists run at once as it has
	// connections.
	if err := rows.Close(); err != nil {
		return page, fmt.Errorf("list %s: %w", spec.kind, err)
	}
	if window {
		page.Total, counted = total, true // no rows: total stays 0
	}
	if o.WithTotal && !counted {
		if o.Cursor == "" && page.Next == "" {
			// The whole list fits the first page: that is the count.
			page.Total = int64(len(page.Items))
		} else {
			n, err := count(filters)
			if err != nil {
				return page, err
			}
			page.Total = n
		}
	}
	return page, nil
}

// sortIndexHint chooses, for SQLite, between the two plans of a filtered
// and sorted page, which its planner cannot tell apart without knowing
// how many rows match: read every match through the filter's index and
// sort them, or walk the sort column's index and stop after a page of
// matches. The first reads n rows; the second about limit·rows/n. When
// the second is cheaper, " INDEXED BY" the sort index makes SQLite take
// it (it otherwise prefers the filter's index, and sorts 30,000 fat rows
// to show 50). PostgreSQL's planner weighs this itself.
func sortIndexHint(ctx context.Context, c conn, spec listSpec, col sortCol, n int64, limit int) (string, error) {
	if n == 0 {
		return "", nil
	}
	// MAX(rowid) is a cheap upper bound of the table's rows.
	var rows sql.NullInt64
	if err := c.row(ctx, "SELECT MAX(rowid) FROM "+spec.from).Scan(&rows); err != nil {
		return "", fmt.Errorf("size %s: %w", spec.kind, err)
	}
	if float64(n)*float64(n) > float64(limit)*float64(rows.Int64) {
		return " INDEXED BY " + col.index, nil
	}
	return "", nil
}

// likeEscape makes s match literally inside a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
