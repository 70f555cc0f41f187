//! Requests that pages run, with their state in signals: [`Act`] runs when
//! asked (a form's submit), [`Load`] at once and again on `refetch`. They do
//! what the pages used of Leptos' `Action` and `LocalResource`; their futures
//! are boxed, so the code around them is compiled once per result type, not
//! once per future (the SPA's size; docs/benchmarks.md, "SPA size").
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;
use std::pin::Pin;

type Boxed<O> = Pin<Box<dyn Future<Output = O>>>;
/// What an [`Act`] runs: a boxed future for each input.
type Run<I, O> = Box<dyn Fn(&I) -> Boxed<O>>;
/// What a [`Load`] runs.
type Fetch<T> = Box<dyn Fn() -> Boxed<T>>;

/// Runs `run(input)` on each [`dispatch`](Act::dispatch); keeps the output
/// of the last run to finish and counts the runs under way.
pub struct Act<I: 'static, O: 'static> {
    run: StoredValue<Run<I, O>, LocalStorage>,
    running: RwSignal<u32>,
    value: RwSignal<Option<O>>,
}

impl<I, O> Clone for Act<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, O> Copy for Act<I, O> {}

impl<I: 'static, O: Send + Sync + 'static> Act<I, O> {
    /// An action that runs `run`.
    pub fn new<F: Future<Output = O> + 'static>(run: impl Fn(&I) -> F + 'static) -> Self {
        let run: Run<I, O> = Box::new(move |input| Box::pin(run(input)));
        Act {
            run: StoredValue::new_local(run),
            running: RwSignal::new(0),
            value: RwSignal::new(None),
        }
    }

    /// Starts a run with `input`.
    pub fn dispatch(self, input: I) {
        let run = self.run.with_value(|run| run(&input));
        self.running.update(|n| *n += 1);
        spawn_local(async move {
            let output = run.await;
            self.running.update(|n| *n = n.saturating_sub(1));
            self.value.set(Some(output));
        });
    }

    /// Whether a run is under way.
    pub fn pending(self) -> Memo<bool> {
        let running = self.running;
        Memo::new(move |_| running.get() > 0)
    }

    /// The output of the last run to finish; `None` before the first.
    pub fn value(self) -> RwSignal<Option<O>> {
        self.value
    }
}

/// Loads `load()` at once and on each [`refetch`](Load::refetch); keeps the
/// last value meanwhile. Only the latest load's value is kept.
pub struct Load<T: 'static> {
    load: StoredValue<Fetch<T>, LocalStorage>,
    loads: StoredValue<u32>,
    value: RwSignal<Option<T>>,
}

impl<T> Clone for Load<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Load<T> {}

impl<T: Send + Sync + 'static> Load<T> {
    /// Starts loading with `load`.
    pub fn new<F: Future<Output = T> + 'static>(load: impl Fn() -> F + 'static) -> Self {
        let load: Fetch<T> = Box::new(move || Box::pin(load()));
        let this = Load {
            load: StoredValue::new_local(load),
            loads: StoredValue::new(0),
            value: RwSignal::new(None),
        };
        this.refetch();
        this
    }

    /// Loads again; the page that made it may be gone (then nothing happens).
    pub fn refetch(self) {
        let Some(load) = self.load.try_with_value(|load| load()) else {
            return;
        };
        let Some(this_load) = self.loads.try_update_value(|n| {
            *n = n.wrapping_add(1);
            *n
        }) else {
            return;
        };
        spawn_local(async move {
            let value = load.await;
            if self.loads.try_get_value() == Some(this_load) {
                self.value.set(Some(value));
            }
        });
    }

    /// The value, once loaded.
    pub fn get(self) -> Option<T>
    where
        T: Clone,
    {
        self.value.get()
    }
}
