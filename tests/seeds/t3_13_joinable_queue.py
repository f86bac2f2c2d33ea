# Seed tutorial 003, "使用Queue&JoinableQueue".  Unchanged.
#encoding=utf-8

import multiprocessing
import time

class Consumer(multiprocessing.Process):

    def __init__(self, task_queue, result_queue):
        multiprocessing.Process.__init__(self)
        self.task_queue = task_queue               #任务队列
        self.result_queue = result_queue           #存储结果的结果队列

    def run(self):
        "重写原进程的run方法"
        proc_name = self.name                      #取到当前进程的名字
        while True:
            next_task = self.task_queue.get()
            if next_task is None:                  #为None时进程退出
                print(('%s: Exiting' % proc_name))
                self.task_queue.task_done()
                break
            print(('%s: %s' % (proc_name, next_task)))  #打印next_task,自动调用的__str__方法
            answer = next_task()
            self.task_queue.task_done()                 #JoinableQueue特有的一定要执行,返回
            self.result_queue.put(answer)
        return


class Task(object):

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __call__(self):
        time.sleep(0.1) # pretend to take some time to do the work
        return '%s * %s = %s' % (self.a, self.b, self.a * self.b)

    def __str__(self):
        return '%s * %s' % (self.a, self.b)

if __name__ == '__main__':
    tasks = multiprocessing.JoinableQueue()   #任务队列
    results = multiprocessing.Queue()         #存结果队列
    num_consumers = multiprocessing.cpu_count()
    print(('Creating %d consumers' % num_consumers))
    # 创建cup核数量数量个的子进程,使用推导列表生成子进程列表
    consumers = [ Consumer(tasks, results) for i in range(num_consumers) ]
    # 依次启动子进程
    #print (consumers)
    for w in consumers:
        w.start()

    num_jobs = 10
    for i in range(num_jobs):
        tasks.put(Task(i, i))

    for i in range(num_consumers):
        tasks.put(None)                #有几个进程加几个None,以此结束死循环

    tasks.join()

    while num_jobs:
        result = results.get()
        print ('Result: %s' %result)
        num_jobs -= 1
