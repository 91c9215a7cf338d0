;; Hand-written legacy exception-handling cases (flat syntax: wasmtime's WAT parser does not take
;; the folded form of legacy try). Each export takes x and returns an i32; $thrower throws $e(x) for
;; x > 0, $f for x = 0 and returns for x < 0. Expected results live in test_eh_translate.py.
(module
  (tag $e (param i32))
  (tag $f)
  (tag $pair (param i32 i64))

  (func $thrower (param i32)
    local.get 0
    i32.eqz
    if
      throw $f
    end
    local.get 0
    i32.const 0
    i32.gt_s
    if
      local.get 0
      throw $e
    end)

  (func (export "catch_basic") (param i32) (result i32)
    try (result i32)
      local.get 0
      call $thrower
      i32.const -1
    catch $e
      i32.const 1000
      i32.add
    catch_all
      i32.const 7
    end)

  (func (export "rethrow_outer") (param i32) (result i32)
    try (result i32)
      try (result i32)
        local.get 0
        call $thrower
        i32.const -1
      catch $e
        drop
        rethrow 0
      end
    catch $e
      i32.const 2000
      i32.add
    catch_all
      i32.const 9
    end)

  (func (export "rethrow_nested") (param i32) (result i32)
    try (result i32)
      try (result i32)
        local.get 0
        call $thrower
        i32.const -1
      catch_all
        try (result i32)
          i32.const 5
          throw $e
        catch $e
          drop
          rethrow 1
        end
      end
    catch $e
      i32.const 3000
      i32.add
    catch $f
      i32.const 33
    end)

  (func (export "delegate_skip") (param i32) (result i32)
    try (result i32)
      try (result i32)
        try (result i32)
          local.get 0
          call $thrower
          i32.const -1
        delegate 1
      catch $e
        i32.const 100
        i32.add
      catch_all
        i32.const 101
      end
    catch $e
      i32.const 4000
      i32.add
    catch_all
      i32.const 44
    end)

  (func (export "delegate_middle") (param i32) (result i32)
    try (result i32)
      try (result i32)
        try (result i32)
          local.get 0
          call $thrower
          i32.const -1
        delegate 0
      catch $e
        i32.const 100
        i32.add
      catch_all
        i32.const 101
      end
    catch $e
      i32.const 4000
      i32.add
    catch_all
      i32.const 44
    end)

  (func $deleg_out (param i32) (result i32)
    try (result i32)
      try (result i32)
        local.get 0
        call $thrower
        i32.const -1
      delegate 1
    catch $e
      drop
      i32.const 555
    end)

  (func (export "delegate_caller") (param i32) (result i32)
    try (result i32)
      local.get 0
      call $deleg_out
    catch $e
      i32.const 5000
      i32.add
    end)

  (func (export "delegate_block") (param i32) (result i32)
    try (result i32)
      block $blk (result i32)
        try (result i32)
          try (result i32)
            local.get 0
            call $thrower
            i32.const -1
          delegate 1
        catch_all
          i32.const 66
        end
      end
    catch $e
      i32.const 6000
      i32.add
    end)

  (func (export "pair") (param i32) (result i32)
    try (result i32)
      local.get 0
      i64.const 40
      throw $pair
    catch $pair
      i32.wrap_i64
      i32.add
    end)

  (func (export "pair_rethrow") (param i32) (result i32)
    try (result i32)
      try (result i32)
        local.get 0
        i64.const 40
        throw $pair
      catch $pair
        drop
        drop
        rethrow 0
      end
    catch $pair
      i32.wrap_i64
      i32.add
      i32.const 1
      i32.add
    end)

  (func (export "try_plain") (param i32) (result i32)
    try (result i32)
      local.get 0
      i32.const 1
      i32.add
    end)

  (func (export "uncaught") (param i32) (result i32)
    local.get 0
    call $thrower
    i32.const -1)

  (func (export "branches") (param i32) (result i32)
    (local $acc i32)
    block $out (result i32)
      try $t (result i32)
        loop $l
          local.get $acc
          i32.const 1
          i32.add
          local.set $acc
          local.get $acc
          i32.const 3
          i32.lt_s
          br_if $l
        end
        local.get 0
        i32.const 2
        i32.eq
        if
          local.get $acc
          i32.const 10
          i32.mul
          br $out
        end
        local.get 0
        call $thrower
        block $a
          block $b
            local.get 0
            i32.const 0
            i32.lt_s
            br_table $a $b $b
          end
          local.get $acc
          i32.const 100
          i32.add
          local.set $acc
        end
        local.get $acc
      catch $e
        i32.const 77
        i32.add
        br $out
      catch_all
        i32.const 8
        br $t
      end
      i32.const 1
      i32.add
    end)

  (func (export "delegate_handler") (param i32) (result i32)
    try (result i32)
      try (result i32)
        local.get 0
        call $thrower
        i32.const -1
      catch $e
        try
          local.get 0
          i32.const 2
          i32.eq
          if
            i32.const 9
            throw $e
          end
        delegate 0
        i32.const 100
        i32.add
      end
    catch $e
      i32.const 7000
      i32.add
    end)
)
