import assert from 'node:assert/strict';
import { loadSqlParser } from '../../src/core/sql/parser';
import { statementAt } from '../../src/core/sql/statement-at';

describe('statementAt: the statement under the cursor', () => {
  before(loadSqlParser);
  const script = "select 1;\n-- the second:\nselect 'a;b', $$x;y$$ from t;\n\nupdate é set v = 2";

  it('splits as the grammar does, never on semicolons inside strings', () => {
    assert.equal(statementAt(script, script.indexOf("'a;b'")), "select 'a;b', $$x;y$$ from t");
    assert.equal(statementAt(script, 0), 'select 1');
    assert.equal(statementAt(script, script.indexOf('update') + 3), 'update é set v = 2');
  });

  it('between two statements, the one before; a script that does not parse, whole', () => {
    assert.equal(statementAt(script, script.indexOf(';') + 1), 'select 1');
    assert.equal(statementAt('select 1; selec 2', 3), 'select 1; selec 2');
  });
});
