package detect

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// op is a comparison in a `where` condition.
type op uint8

const (
	opEq op = iota
	opNe
	opIn
	opNotIn
	opGt
	opGte
	opLt
	opLte
	opContains
	opIContains
	opPrefix
	opSuffix
	opExists
	opCIDR
	opNotCIDR
	opMatches
)

// opNames lists the operators of `where` conditions.
func opNames() map[string]op {
	return map[string]op{
		"eq": opEq, "ne": opNe, "in": opIn, "not_in": opNotIn, "gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte,
		"contains": opContains, "icontains": opIContains, "prefix": opPrefix, "suffix": opSuffix, "exists": opExists,
		"cidr": opCIDR, "not_cidr": opNotCIDR, "matches": opMatches,
	}
}

func opList() string {
	var ks []string
	for k := range opNames() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// cond is one compiled condition: field op operand(s).
type cond struct {
	field string
	get   getter
	op    op
	vals  []value // eq/ne/in/not_in/gt…: operands
	strs  []string
	nets  []netip.Prefix
	re    *regexp.Regexp
	want  bool // exists
}

// condSet is what a `where` compiles to: all of conds, and at least one of
// each `any` group.
type condSet struct {
	all []cond
	any [][]condSet
}

func (cs *condSet) empty() bool { return len(cs.all) == 0 && len(cs.any) == 0 }

func (cs *condSet) match(c *evctx) bool {
	for i := range cs.all {
		if !cs.all[i].match(c) {
			return false
		}
	}
	for _, group := range cs.any {
		ok := false
		for i := range group {
			if group[i].match(c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// compileWhere compiles a `where` mapping for events of type on.
func compileWhere(file, on string, n *ynode) (condSet, error) {
	var cs condSet
	if n == nil || n.kind == yNull {
		return cs, nil
	}
	if n.kind != yMap {
		return cs, n.errf(file, "where must be a mapping of field: condition, found %s", n.describe())
	}
	for i, k := range n.keys {
		v := n.vals[i]
		if k.str == "any" {
			if v.kind != ySeq || len(v.items) == 0 {
				return cs, v.errf(file, "any must be a list of mappings (one of them must hold)")
			}
			var group []condSet
			for _, it := range v.items {
				sub, err := compileWhere(file, on, it)
				if err != nil {
					return cs, err
				}
				group = append(group, sub)
			}
			cs.any = append(cs.any, group)
			continue
		}
		g, err := compileField(on, k.str)
		if err != nil {
			return cs, k.errf(file, "%v", err)
		}
		conds, err := compileCond(file, k.str, g, v)
		if err != nil {
			return cs, err
		}
		cs.all = append(cs.all, conds...)
	}
	return cs, nil
}

// compileCond compiles the condition on one field: a scalar (equality), a
// list (one of), or a mapping of operators (all must hold).
func compileCond(file, field string, g getter, v *ynode) ([]cond, error) {
	switch v.kind {
	case yScalar:
		return []cond{{field: field, get: g, op: opEq, vals: []value{scalarValue(v)}}}, nil
	case ySeq:
		c := cond{field: field, get: g, op: opIn}
		for _, it := range v.items {
			if it.kind != yScalar {
				return nil, it.errf(file, "a list of values must hold plain values, found %s", it.describe())
			}
			c.vals = append(c.vals, scalarValue(it))
		}
		if len(c.vals) == 0 {
			return nil, v.errf(file, "empty list: nothing could match")
		}
		return []cond{c}, nil
	case yMap:
		var out []cond
		for i, k := range v.keys {
			o, ok := opNames()[k.str]
			if !ok {
				return nil, k.errf(file, "unknown operator %q (operators: %s)", k.str, opList())
			}
			c, err := compileOp(file, field, g, o, k.str, v.vals[i])
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, v.errf(file, "no condition for %s", field)
		}
		return out, nil
	}
	return nil, v.errf(file, "condition for %s is empty", field)
}

func compileOp(file, field string, g getter, o op, name string, v *ynode) (cond, error) {
	c := cond{field: field, get: g, op: o}
	scalars := func() ([]*ynode, error) {
		if v.kind == yScalar {
			return []*ynode{v}, nil
		}
		if v.kind == ySeq && len(v.items) > 0 {
			for _, it := range v.items {
				if it.kind != yScalar {
					return nil, it.errf(file, "%s takes plain values, found %s", name, it.describe())
				}
			}
			return v.items, nil
		}
		return nil, v.errf(file, "%s takes a value or a list of values, found %s", name, v.describe())
	}
	switch o {
	case opEq, opNe, opIn, opNotIn:
		items, err := scalars()
		if err != nil {
			return c, err
		}
		if (o == opEq || o == opNe) && len(items) > 1 {
			return c, v.errf(file, "%s takes one value; use in or not_in for a list", name)
		}
		for _, it := range items {
			c.vals = append(c.vals, scalarValue(it))
		}
	case opGt, opGte, opLt, opLte:
		if v.kind != yScalar || !v.isNum {
			return c, v.errf(file, "%s takes a number, found %s", name, v.describe())
		}
		c.vals = []value{num(v.num)}
	case opContains, opIContains, opPrefix, opSuffix:
		items, err := scalars()
		if err != nil {
			return c, err
		}
		for _, it := range items {
			s := it.str
			if o == opIContains {
				s = strings.ToLower(s)
			}
			c.strs = append(c.strs, s)
		}
	case opExists:
		if v.kind != yScalar || !v.isBool {
			return c, v.errf(file, "exists takes true or false, found %s", v.describe())
		}
		c.want = v.b
	case opCIDR, opNotCIDR:
		items, err := scalars()
		if err != nil {
			return c, err
		}
		for _, it := range items {
			p, err := parsePrefix(it.str)
			if err != nil {
				return c, it.errf(file, "%v", err)
			}
			c.nets = append(c.nets, p)
		}
	case opMatches:
		if v.kind != yScalar || !v.isStr {
			return c, v.errf(file, "matches takes a regular expression (RE2 syntax), found %s", v.describe())
		}
		re, err := regexp.Compile(v.str)
		if err != nil {
			return c, v.errf(file, "bad regular expression: %v", err)
		}
		c.re = re
	}
	return c, nil
}

// parsePrefix reads a CIDR block or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR block such as 10.0.0.0/8", s)
}

func scalarValue(n *ynode) value {
	switch {
	case n.isBool:
		return boolean(n.b)
	case n.isNum:
		return num(n.num)
	}
	if a, err := netip.ParseAddr(n.str); err == nil {
		return value{k: vAddr, a: a, s: n.str}
	}
	return value{k: vStr, s: n.str}
}

func (c *cond) match(ctx *evctx) bool {
	v := c.get(ctx)
	switch c.op {
	case opExists:
		return v.present() == c.want
	case opNe:
		return !c.any(v, opEq)
	case opNotIn:
		return !c.any(v, opIn)
	case opNotCIDR:
		return v.present() && !c.any(v, opCIDR)
	}
	return c.any(v, c.op)
}

// any says whether v, or an element of a list v, satisfies o.
func (c *cond) any(v value, o op) bool {
	if v.k == vList {
		for _, x := range v.l {
			if c.one(x, o) {
				return true
			}
		}
		return false
	}
	return c.one(v, o)
}

func (c *cond) one(v value, o op) bool {
	if v.k == vNone {
		return false
	}
	switch o {
	case opEq, opIn:
		for _, w := range c.vals {
			if equal(v, w) {
				return true
			}
		}
		return false
	case opGt, opGte, opLt, opLte:
		x, ok := number(v)
		if !ok {
			return false
		}
		w := c.vals[0].n
		switch o {
		case opGt:
			return x > w
		case opGte:
			return x >= w
		case opLt:
			return x < w
		}
		return x <= w
	case opContains, opIContains, opPrefix, opSuffix:
		s := v.text()
		if o == opIContains {
			s = strings.ToLower(s)
		}
		for _, w := range c.strs {
			switch {
			case (o == opContains || o == opIContains) && strings.Contains(s, w),
				o == opPrefix && strings.HasPrefix(s, w),
				o == opSuffix && strings.HasSuffix(s, w):
				return true
			}
		}
		return false
	case opCIDR:
		a := v.a
		if v.k != vAddr {
			var err error
			if a, err = netip.ParseAddr(v.text()); err != nil {
				return false
			}
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case opMatches:
		return c.re.MatchString(v.text())
	}
	return false
}

func equal(v, w value) bool {
	switch {
	case v.k == w.k:
		switch v.k {
		case vStr:
			return v.s == w.s
		case vNum:
			return v.n == w.n
		case vBool:
			return v.b == w.b
		case vAddr:
			return v.a.Unmap() == w.a.Unmap()
		}
	case v.k == vNum && w.k == vStr, v.k == vStr && w.k == vNum:
		x, ok1 := number(v)
		y, ok2 := number(w)
		return ok1 && ok2 && x == y
	case v.k == vStr && w.k == vAddr:
		return v.s == w.s
	}
	return v.text() == w.text()
}

func number(v value) (float64, bool) {
	switch v.k {
	case vNum:
		return v.n, true
	case vStr:
		f, err := strconv.ParseFloat(v.s, 64)
		return f, err == nil
	case vBool:
		if v.b {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
